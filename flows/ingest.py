"""The ingest flow: files in, chunks and vectors in LanceDB, a job summary out.

validate (one task for all files) → extract (one task per audio, video or large PDF; one per
batch of small files) → index (chunk + embed + write, batched across sources) → refresh the
full-text index. Every stage end and every failure is written to the analytics store; a failed
source never stops the others.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.tasks import (
    extract_batch,
    extract_one,
    index_batch,
    stage_options,
    timeout_for,
    validate_files,
)
from pipelines import analytics
from pipelines.config import Settings
from pipelines.errors import InletError, NotFound, classify
from pipelines.records import Extraction, Source
from pipelines.sources import discover
from pipelines.store import Store

INDEX_BATCH_CHUNKS = 4096
"""About how many chunks' worth of sources (1000 characters each) go to one index task."""


@dataclass
class SourceOutcome:
    path: str
    source_id: str | None = None
    kind: str | None = None
    status: str = "pending"  # ingested | unchanged | failed
    chunks: int = 0
    error: InletError | None = None
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        error = None
        if self.error is not None:
            error = {k: self.error.to_dict()[k] for k in ("class", "message", "hint", "retryable")}
            error["stage"] = self.error.stage
        return {
            "path": self.path,
            "file": self.file,
            "source_id": self.source_id,
            "kind": self.kind,
            "status": self.status,
            "chunks": self.chunks,
            "error": error,
        }


@dataclass
class JobRun:
    job_id: str
    collection: str
    settings: Settings
    priority: str = "normal"
    outcomes: list[SourceOutcome] = field(default_factory=list)
    embedded: int = 0
    started: float = field(default_factory=time.perf_counter)
    pending_events: list[dict[str, Any]] = field(default_factory=list)

    def flush_events(self) -> None:
        """Write the events gathered so far as one file."""
        analytics.record(self.settings, "events", self.pending_events)
        self.pending_events = []

    def fail(self, outcome: SourceOutcome, error: InletError) -> None:
        outcome.status, outcome.error = "failed", error
        analytics.record(self.settings, "errors", [{
            "job_id": self.job_id, "collection": self.collection, "source_id": outcome.source_id,
            "file": outcome.file, "path": outcome.path, "stage": error.stage,
            "class": error.code, "message": error.message, "hint": error.hint,
            "retryable": error.retryable, "attempt": error.attempt, "detail": error.detail,
        }])  # fmt: skip

    def event(self, source: Source, stage: str, **values: Any) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "collection": self.collection, "source_id": source.source_id,
            "file": source.file, "kind": source.kind, "stage": stage, "event": "end",
            "attempt": 1, "bytes": source.size, **values,
        }  # fmt: skip

    def summary(self) -> dict[str, Any]:
        failed = sum(o.status == "failed" for o in self.outcomes)
        if failed == 0:
            status = "completed"
        elif failed == len(self.outcomes):
            status = "failed"
        else:
            status = "partially_failed"
        return {
            "job_id": self.job_id,
            "collection": self.collection,
            "status": status,
            "chunks_written": sum(o.chunks for o in self.outcomes if o.status == "ingested"),
            "embedded": self.embedded,
            "seconds": round(time.perf_counter() - self.started, 3),
            "sources": [o.to_dict() for o in self.outcomes],
        }


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def _is_expensive(source: Source, settings: Settings) -> bool:
    return source.kind in ("audio", "video") or (
        source.kind == "pdf" and source.size > settings.large_pdf_bytes
    )


@flow(name="ingest", log_prints=True)
def ingest_flow(
    paths: list[str],
    collection: str | None = None,
    settings: Settings | None = None,
    job_id: str | None = None,
    priority: str = "normal",
) -> dict[str, Any]:
    """Ingest files and folders into ``collection``; returns the job summary as plain data."""
    from pipelines.config import get_settings

    settings = settings or get_settings()
    collection = collection or settings.collection
    job = JobRun(job_id or new_job_id(), collection, settings, priority)
    analytics.record(settings, "jobs", [{
        "job_id": job.job_id, "collection": collection, "priority": priority,
        "status": "running", "submitted_at": analytics.now(), "started_at": analytics.now(),
        "flow_run_id": flow_run.get_id(), "paths": json.dumps([str(p) for p in paths]),
    }])  # fmt: skip

    files, missing = discover(paths)
    for path in missing:
        outcome = SourceOutcome(path=str(path), file=path.name)
        job.outcomes.append(outcome)
        job.fail(outcome, NotFound(f"No such file or folder: {path}", path=str(path), stage="validate"))

    store = Store(settings)
    key = settings.chunking_key()
    current, ids_by_path = store.source_map(collection, key)
    todo: list[tuple[Source, SourceOutcome]] = []
    seen: dict[str, SourceOutcome] = {}
    validated = validate_files([str(f) for f in files], settings) if files else []
    for path, result in zip(files, validated, strict=True):
        outcome = SourceOutcome(path=str(path), file=path.name)
        job.outcomes.append(outcome)
        if isinstance(result, InletError):
            job.fail(outcome, result)
            continue
        outcome.source_id, outcome.kind = result.source_id, result.kind
        if result.source_id in seen or result.source_id in current:
            outcome.status = "unchanged"
            continue
        seen[result.source_id] = outcome
        todo.append((result, outcome))

    # Extract: expensive files one task each, small files in batches.
    extracted: list[tuple[Extraction, SourceOutcome]] = []
    by_id = {s.source_id: o for s, o in todo}
    heavy = [s for s, _ in todo if _is_expensive(s, settings)]
    light = [s for s, _ in todo if not _is_expensive(s, settings)]
    for source in heavy:
        extract_task = extract_one.with_options(**stage_options(settings, timeout_for(source, settings)))
        state = extract_task(source, settings, return_state=True)
        result = state.result(raise_on_failure=False)
        _collect(job, source, result, by_id[source.source_id], extracted)
    batch_task = extract_batch.with_options(timeout_seconds=settings.timeout_extract_s)
    for i in range(0, len(light), settings.small_file_batch):
        batch = light[i : i + settings.small_file_batch]
        for source, result in zip(batch, batch_task(batch, settings), strict=True):
            _collect(job, source, result, by_id[source.source_id], extracted)
    job.flush_events()

    # Index: chunk + embed + write, batched across sources.
    index_task = index_batch.with_options(**stage_options(settings, settings.timeout_index_s))
    for batch in _index_batches(extracted):
        extractions = [e for e, _ in batch]
        replaces = {
            e.source.source_id: sorted(ids_by_path.get(e.source.path, set()) - {e.source.source_id})
            for e in extractions
        }
        state = index_task(extractions, collection, settings, replaces, return_state=True)
        result = state.result(raise_on_failure=False)
        if not hasattr(result, "sources"):
            error = classify(result, stage="index")
            for _, outcome in batch:
                job.fail(outcome, classify(error, path=outcome.path, source_id=outcome.source_id))
            continue
        job.embedded += result.embedded
        events = []
        for (extraction, outcome), indexed in zip(batch, result.sources, strict=True):
            if indexed.error is not None:
                job.fail(outcome, indexed.error)
                continue
            outcome.status, outcome.chunks = "ingested", indexed.chunks
            events.append(
                job.event(extraction.source, "index", chunks=indexed.chunks, duration_s=indexed.chunk_s)
            )
        analytics.record(settings, "events", events)
    if any(o.status == "ingested" for o in job.outcomes):
        store.refresh_indexes()

    summary = job.summary()
    failed = sum(o.status == "failed" for o in job.outcomes)
    unchanged = sum(o.status == "unchanged" for o in job.outcomes)
    analytics.record(settings, "jobs", [{
        "job_id": job.job_id, "collection": collection, "priority": priority,
        "status": summary["status"], "finished_at": analytics.now(),
        "flow_run_id": flow_run.get_id(), "n_sources": len(job.outcomes), "n_failed": failed,
        "n_unchanged": unchanged, "chunks_written": summary["chunks_written"],
    }])  # fmt: skip
    return summary


def _collect(
    job: JobRun,
    source: Source,
    result: Any,
    outcome: SourceOutcome,
    extracted: list[tuple[Extraction, SourceOutcome]],
) -> None:
    if isinstance(result, Extraction):
        extracted.append((result, outcome))
        job.pending_events.append(job.event(
            source, "extract", duration_s=result.seconds, pages=result.source.pages,
            audio_s=result.source.duration_s if source.kind in ("audio", "video") else None,
            cached=result.cached,
        ))  # fmt: skip
    else:
        job.fail(outcome, classify(result, path=source.path, source_id=source.source_id, stage="extract"))


def _index_batches(
    extracted: list[tuple[Extraction, SourceOutcome]],
) -> list[list[tuple[Extraction, SourceOutcome]]]:
    batches: list[list[tuple[Extraction, SourceOutcome]]] = []
    current: list[tuple[Extraction, SourceOutcome]] = []
    size = 0
    for item in extracted:
        current.append(item)
        size += sum(len(s.text) for s in item[0].segments) // 1000 + 1
        if size >= INDEX_BATCH_CHUNKS:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches
