"""The ingest flow: files in, chunks and vectors in LanceDB, a job summary out.

validate (one task for all files) -> extract or transcribe (one task per audio, video or large
PDF, one per batch of small files; up to ``task_workers`` at a time, so a recording is
transcribed while text files are read and embedded) -> index (chunk + embed + write, batched
across sources: ``index_batch_chunks`` at a time, at least every ``index_every_s``) -> refresh the
full-text index.

Every stage start and end, retry and failure is written to the analytics store as it happens,
and the job's stage-weighted progress to a Prefect progress artifact (at most once a second,
and at its end); a table artifact sums the job up at its end. A failed source never stops the
others. A cancelled job (``inlet cancel``) stops within about a second, also in the middle of a
transcription or an embedding batch: what was indexed stays, the rest is marked cancelled,
and since each batch of sources is written in one commit nothing is left half-written.

On a team's Prefect server a job with more than ``part_size`` files is spread over the workers
in parts, each a run of this flow (``flows.parts``); its first run sums them up.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Iterator
from typing import Any, TypeVar, cast
from uuid import UUID

from prefect import flow
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows.claims import is_worker
from flows.job import CANCEL_CHECK_S, JobRun, SourceOutcome, source_values
from flows.parts import gather, own_deployment, spreads, start_parts
from flows.tasks import (
    Cancelled,
    ensure_limits,
    extract_batch,
    extract_one,
    index_batch,
    stage_options,
    timeout_for,
    validate_files,
)
from pipelines import analytics, objstore
from pipelines.config import Settings, get_settings
from pipelines.errors import InletError, InputError, ModelMismatch, WriteConflict, classify
from pipelines.formats import storable
from pipelines.index import IndexResult
from pipelines.queue import check_priority, new_job_id
from pipelines.records import Extraction, Source, extract_stage, is_media
from pipelines.search import needs_refresh, refresh
from pipelines.sources import discover
from pipelines.staging import is_reference
from pipelines.store import Store

log = logging.getLogger("inlet.flows")
T = TypeVar("T")


def _is_expensive(source: Source, settings: Settings) -> bool:
    # an image is read by OCR (seconds a page): it gets a task of its own, as a recording does
    return (
        is_media(source.kind)
        or source.kind == "image"
        or (source.kind == "pdf" and source.size > settings.large_pdf_bytes)
    )


@flow(
    name="ingest",
    log_prints=True,
    # Prefect's TaskRunner is invariant in its future type, so its own runners fail its flow stub
    task_runner=ThreadPoolTaskRunner(max_workers=get_settings().task_workers),  # type: ignore[arg-type]
)
def ingest_flow(
    paths: list[str],
    collection: str | None = None,
    settings: Settings | None = None,
    job_id: str | None = None,
    priority: str = "normal",
    within: str | None = None,
    part: int = 0,
    job_run_id: str | None = None,
) -> dict[str, Any]:
    """Ingest files and folders into ``collection``; returns the job summary as plain data.

    ``within``: a folder that every path must lie in once links are resolved (the inbox passes
    its own); without it a path given explicitly is followed if it is a link. ``part`` and
    ``job_run_id``: set on the later parts of a job split over workers (``flows.parts``): which
    part this run is, and the flow run of the job, which sums the parts up; a part's summary is
    its own files'."""
    own = get_settings()
    settings = settings or own
    if own.active_mode == "server" and is_worker():
        # a worker of a team's server runs the submitter's settings: its home is a folder there
        settings = settings.on_machine(own)
    own_run = str(flow_run.get_id() or "") or None
    job = JobRun(
        job_id or new_job_id(),
        collection or settings.collection,
        settings,
        check_priority(priority),
        flow_run_id=job_run_id or own_run,
        worker=own.worker_name,  # this process's name, not the submitter's
        part=part if job_run_id else 0,
        part_run_id=own_run if job_run_id else None,
    )
    if job.part:  # the job is running since its own run started; a part that starts late never revives it
        job.record_job(None, started_at=analytics.now(), part=job.part)
    else:
        job.record_job("running", started_at=analytics.now(), paths=json.dumps([str(p) for p in paths]))
    try:
        ensure_limits(settings)
        parts = _ingest(job, [str(p) for p in paths], within)
        if parts:
            gather(job, parts, lambda one, files: _run_part(one, files, within))
    except Exception as exc:
        job.fail_run(classify(exc, stage="flow"))
        _finish(job)
        raise
    return _finish(job)


def _run_part(job: JobRun, paths: list[str], within: str | None) -> None:
    """Run a part of a split job in this flow run (the job's run took it), and record its end."""
    job.record_job(None, started_at=analytics.now(), part=job.part)
    try:
        _ingest(job, paths, within)
    except Exception as exc:  # noqa: BLE001 - the part's files fail; the job goes on with the others
        error = classify(exc, stage="flow")
        for outcome in job.outcomes:
            if not outcome.finished:
                job.fail(outcome, classify(error, path=outcome.path, source_id=outcome.source_id))
    job.record_end()


def _ingest(job: JobRun, paths: list[str], within: str | None = None) -> list[str]:
    """Ingest this run's files; the ids of the part runs started for the rest of a large job."""
    settings = job.settings
    artifact = ProgressArtifact(job)
    parts: list[str] = []
    refused: list[InputError] = []
    if not job.part and spreads(own_deployment()):
        paths, refused = _listed(paths, within)
        if len(paths) > settings.part_size:
            parts = start_parts(job, paths[settings.part_size :], within, own_deployment())
            job.record_job("running", n_sources=len(paths) + len(refused))
            paths = paths[: settings.part_size]
    files, more = discover(paths, within=within)  # fetches this run's staged inputs
    refused += more
    for error in refused:  # missing paths, links out of a folder, FIFOs and devices, inputs not staged
        where = error.path or ""
        job.fail(job.add(SourceOutcome(path=where, file=objstore.input_name(where))), error)

    store = Store(settings)
    try:  # the collection's own embedding model decides which sources are current
        key = store.collection_settings(job.collection, settings).chunking_key()
    except ModelMismatch as error:  # asked for another model: every file fails with the class
        for path in files:
            outcome = job.add(SourceOutcome(path=str(path), file=path.name))
            job.fail(outcome, ModelMismatch(error.message, path=str(path), stage="validate"))
        return parts
    current, ids_by_path = store.source_map(job.collection, key)
    todo: list[Source] = []
    started = time.perf_counter()
    validated = validate_files([str(f) for f in files], settings) if files else []
    share = (time.perf_counter() - started) / max(len(files), 1)  # one task checks them all
    events = []
    for path, result in zip(files, validated, strict=True):
        outcome = job.add(SourceOutcome(path=str(path), file=path.name))
        if isinstance(result, InletError):
            job.fail(outcome, result)
            continue
        first = job.identify(outcome, result)
        events.append((outcome, "validate", "end", {**source_values(result), "duration_s": share}))
        if not first or result.source_id in current:
            outcome.status = "unchanged"
            events.append((outcome, "index", "skip", {}))
            continue
        todo.append(result)
    job.events(events)
    if not parts and not job.part:  # a split job counted all of its files when it split
        job.record_job("running", n_sources=len(job.outcomes))
    artifact.report()

    # Extract: expensive files one task each, small files in batches; index as text gets ready.
    # Tasks get the job's plain context, never the JobRun: they may run in another process.
    context = job.context
    futures: dict[PrefectFuture[Any], list[Source]] = {}
    for source in todo:
        if _is_expensive(source, settings):
            task = extract_one.with_options(**stage_options(settings, timeout_for(source, settings)))
            futures[task.submit(source, context)] = [source]
    light = [s for s in todo if not _is_expensive(s, settings)]
    batch_task = extract_batch.with_options(timeout_seconds=settings.timeout_extract_s)
    for i in range(0, len(light), settings.small_file_batch):
        batch = light[i : i + settings.small_file_batch]
        futures[batch_task.submit(_quoted(batch), context)] = batch

    ready: list[Extraction] = []
    size = 0
    last_write = time.monotonic()
    for future in _as_completed_or_cancelled(job, list(futures)):
        sources = futures[future]
        result = future.result(raise_on_failure=False)
        results = result if isinstance(result, list) else [result] * len(sources)
        for source, one in zip(sources, results, strict=True):
            if isinstance(one, Extraction):
                job.note(job.outcome(source.source_id), extract_stage(source.kind), "end")
                ready.append(one)
                size += sum(len(s.text) for s in one.segments) // 1000 + 1
            elif isinstance(one, Cancelled):
                # the task saw the cancel before this loop looked: the job is cancelled all the
                # same (else its unfinished sources would stay pending and the job "complete")
                job.cancelled = True
            else:
                stage = extract_stage(source.kind)
                outcome = job.outcome(source.source_id)
                job.fail(outcome, classify(one, path=source.path, source_id=source.source_id, stage=stage))
        # Index in large batches (the embedder stays busy, commits stay few), and at least every
        # index_every_s, so that a long job becomes searchable as it goes.
        due = size >= settings.index_batch_chunks or time.monotonic() - last_write >= settings.index_every_s
        if ready and due and not job.cancel_requested():
            _index(job, ready, ids_by_path)
            ready, size, last_write = [], 0, time.monotonic()
        artifact.report()
    if ready and not job.cancel_requested():
        _index(job, ready, ids_by_path)
    if job.cancelled:
        job.events([(o, "index", "cancel", {}) for o in job.outcomes if not o.finished])
        for outcome in job.outcomes:
            if not outcome.finished:
                outcome.status = "cancelled"
    if any(o.status == "ingested" for o in job.outcomes) or needs_refresh(store):
        _refresh(store, job.settings)  # also finishes the refresh of a job killed before it
        store.optimize_sources()
    artifact.report(final=True)
    return parts


def _quoted(value: T) -> T:
    """``value`` as Prefect hands it to a task untouched: without this, Prefect visits every item
    of a task's arguments (every segment of every extraction) looking for futures to wait for.
    Typed as the value itself, which is what the task receives."""
    return cast(T, quote(value))


def _listed(paths: list[str], within: str | None) -> tuple[list[str], list[InputError]]:
    """Every file of ``paths`` once, named so that a worker on any machine can run it: folders
    walked, a staged input kept as its reference (whichever worker runs its part fetches its own
    copy); and what was refused."""
    found, refused = discover([p for p in paths if not is_reference(p)], within=within)
    staged = [p for p in paths if is_reference(p)]
    return list(dict.fromkeys([*map(str, found), *staged])), refused


def _refresh(store: Store, settings: Settings) -> None:
    """Refresh the chunk indexes. Another process refreshing them at the same moment may win
    the commit (a ``write_conflict``), and its indexes may lack this job's rows: refresh again
    from the new version, up to ``retries`` times, with the settings' delays."""
    for attempt in range(settings.retries + 1):
        try:
            refresh(store)
            return
        except Exception as exc:
            if not isinstance(classify(exc), WriteConflict) or attempt == settings.retries:
                raise
            log.info("index refresh lost its commit to another process; again: %s", exc)
            time.sleep(settings.retry_delay_s * 2**attempt)


def _as_completed_or_cancelled(
    job: JobRun, futures: list[PrefectFuture[Any]]
) -> Iterator[PrefectFuture[Any]]:
    """The futures as they complete, until the job is cancelled: then the job ends at once
    (its sources not done are marked cancelled) instead of waiting for an extraction step
    under way, which stops at its own next check and whose result is dropped (a decoder step
    on a loaded machine can take ten seconds). Waiting is a plain queue with a timeout, so
    nothing can interrupt the caller's work between two futures."""
    done: queue.Queue[PrefectFuture[Any]] = queue.Queue()
    for future in futures:
        future.add_done_callback(done.put)
    for _ in futures:
        while True:
            try:
                future = done.get(timeout=CANCEL_CHECK_S)
                break
            except queue.Empty:
                if job.cancel_requested():
                    return
        yield future


def _index(job: JobRun, extractions: list[Extraction], ids_by_path: dict[str, set[str]]) -> None:
    """Chunk, embed and write ``extractions``; record what happened to each source."""
    replaces = {
        e.source.source_id: sorted(ids_by_path.get(storable(e.source.path), set()) - {e.source.source_id})
        for e in extractions
    }
    task = index_batch.with_options(**stage_options(job.settings, job.settings.timeout_index_s))
    state = task(_quoted(extractions), replaces, job.context, return_state=True)
    result = state.result(raise_on_failure=False)
    outcomes = [job.outcome(e.source.source_id) for e in extractions]
    if isinstance(result, Cancelled):  # stopped mid-batch: nothing of it was written
        job.cancelled = True
        return
    if not isinstance(result, IndexResult):
        error = classify(result, stage="index")
        for outcome in outcomes:
            job.fail(outcome, classify(error, path=outcome.path, source_id=outcome.source_id))
        return
    job.embedded += result.embedded
    for outcome, indexed in zip(outcomes, result.sources, strict=True):
        if indexed.error is not None:
            job.fail(outcome, indexed.error)
        else:
            outcome.status, outcome.chunks = "ingested", indexed.chunks
            job.note(outcome, "index", "end")


REPORT_EVERY_S = 1.0
"""How often at most a job's progress artifact is sent to Prefect (its last value always is)."""


class ProgressArtifact:
    """A job's stage-weighted progress (0-100) as a Prefect progress artifact of its flow run,
    sent at most every :data:`REPORT_EVERY_S` and made by the first send: each send is a call
    to the Prefect server, and a job of a few small files is done within a second, so it makes
    one call instead of four."""

    def __init__(self, job: JobRun) -> None:
        self.job = job
        self.id: UUID | None = None
        self.sent: float | None = None
        self.sent_at = time.monotonic()

    def report(self, *, final: bool = False) -> None:
        """Send the job's progress if it changed and :data:`REPORT_EVERY_S` went by since the
        last send (the job's start, at first), or at once when ``final``."""
        now = time.monotonic()
        value = round(self.job.progress() * 100, 1)
        if value == self.sent or (not final and now - self.sent_at < REPORT_EVERY_S):
            return
        if self.sent is None:
            description = f"inlet job {self.job.job_id}: stage-weighted progress"
            created = create_progress_artifact(value, description=description)
            # a sync flow gets the sync implementation's UUID; the coroutine is for async callers
            self.id = created if isinstance(created, UUID) else None
        elif self.id is not None:
            update_progress_artifact(self.id, value)
        self.sent, self.sent_at = value, now


def _finish(job: JobRun) -> dict[str, Any]:
    """Record the job's end (analytics row with the summary, table artifact); its summary."""
    summary = job.record_end()
    rows = [
        {
            "file": s["file"], "kind": s["kind"] or "", "status": s["status"], "chunks": s["chunks"],
            "error": (s["error"] or {}).get("class") or "", "hint": (s["error"] or {}).get("hint") or "",
        }
        for s in summary["sources"]
    ]  # fmt: skip
    if rows:
        create_table_artifact(
            rows,
            key=f"job-{job.job_id}",
            description=(
                f"inlet job {job.job_id} into '{job.collection}': {summary['status']}, "
                f"{summary['chunks_written']} chunks in {summary['seconds']:.1f} s"
            ),
        )
    return summary
