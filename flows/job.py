"""The record of one job as it runs: per-source outcomes, stage events, errors and progress.

inlet owns the truth about jobs (ECOSYSTEM section 9.3): every stage start and end, every retry
and every failure is written to the analytics store as it happens, whoever runs the flow; the
Prefect progress artifact mirrors the same progress for the Prefect UI.

Two shapes, for two places. ``JobRun`` is the flow body's mutable record of the job (outcomes,
progress, the summary). Tasks get a ``JobContext`` and ``SourceRef`` values instead: frozen,
plain and picklable, so that a task runner other than threads (a process pool, Dask) can send
them to another process. A task writes its own stage events through its ``JobContext`` (the
analytics store takes writes from any process) and returns plain values; the flow body notes
what came back for its progress and decides each source's outcome.

A job split over workers (``flows.ingest``) is one ``job_id`` and one job run (the flow run the
job was submitted as, ``flow_run_id``) with parts: each part is a ``JobRun`` of its own with
``part`` and its own run (``part_run_id``). A part's end is a row with its summary and no status
(``record_end``); the job's first run adds the parts' summaries to its own (``absorb``) and writes
the job's end, so the job's status follows one rule, ``JobRun.status``, however it ran.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines import analytics, progress
from pipelines.config import Settings
from pipelines.errors import ALL_CLASSES, InletError, InternalError, classify
from pipelines.records import FINISHED_SOURCE_STATUSES, Source

CANCEL_CHECK_S = 0.5
"""How often a running job asks Prefect whether its run is being cancelled (one API read)."""


def flow_run_cancelled(flow_run_id: str) -> bool:
    """True when the flow run is Cancelling or Cancelled; False also when the API cannot say."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
    except Exception:  # noqa: BLE001 - a missed check is retried half a second later
        return False
    return state is not None and state.type in (StateType.CANCELLING, StateType.CANCELLED)


class _CancelWatch:
    """This process's view of which flow runs are being cancelled: each run's state is read at
    most every ``CANCEL_CHECK_S``, whichever thread (or task) asks; a cancel, once seen, stays."""

    KEPT = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked: dict[str, float] = {}
        self._cancelled: set[str] = set()

    def requested(self, flow_run_id: str) -> bool:
        if flow_run_id in self._cancelled:
            return True
        with self._lock:
            now = time.monotonic()
            if now - self._checked.get(flow_run_id, float("-inf")) < CANCEL_CHECK_S:
                return False
            if len(self._checked) >= self.KEPT:  # a long-lived worker forgets old runs
                self._checked.clear()
            self._checked[flow_run_id] = now
        if flow_run_cancelled(flow_run_id):
            self._cancelled.add(flow_run_id)
            return True
        return False


_cancel_watch = _CancelWatch()


@dataclass(frozen=True)
class SourceRef:
    """What an event row says about its source."""

    path: str
    file: str | None = None
    source_id: str | None = None
    kind: str | None = None

    @classmethod
    def of(cls, source: Source) -> SourceRef:
        return cls(source.path, Path(source.path).name, source.source_id, source.kind)


@dataclass(frozen=True)
class JobContext:
    """What a task needs to know of its job; plain values that pickle."""

    job_id: str
    collection: str
    settings: Settings
    flow_run_id: str | None = None
    worker: str | None = None
    """The name of the worker running the job (``inlet worker --name``), written with each event."""
    part_run_id: str | None = None
    """The flow run of this part of a split job (``flow_run_id`` is the job's own run)."""

    def cancel_requested(self) -> bool:
        """True once someone asked to cancel this job: its flow run, or the run of this part, is
        Cancelling (``inlet cancel``, the Prefect UI's Cancel button, ``set_flow_run_state``)."""
        return any(
            run is not None and _cancel_watch.requested(run) for run in (self.flow_run_id, self.part_run_id)
        )

    def events(self, rows: list[tuple[SourceRef, str, str, dict[str, Any]]]) -> None:
        """Write ``(source, stage, event, values)`` rows to the analytics store as one file."""
        if not rows:
            return
        analytics.record(self.settings, "events", [{
            "job_id": self.job_id, "collection": self.collection,
            "source_id": ref.source_id, "file": ref.file, "kind": ref.kind,
            "path": ref.path, "stage": stage, "event": event, "attempt": 1, "worker": self.worker, **values,
        } for ref, stage, event, values in rows])  # fmt: skip


@dataclass
class SourceOutcome:
    path: str
    source_id: str | None = None
    kind: str | None = None
    status: str = "pending"  # ingested | unchanged | failed | cancelled
    chunks: int = 0
    error: InletError | None = None
    file: str | None = None
    stages: list[tuple[str, str]] = field(default_factory=list)
    """(stage, event) pairs seen so far, for progress."""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_SOURCE_STATUSES

    @property
    def ref(self) -> SourceRef:
        return SourceRef(self.path, self.file, self.source_id, self.kind)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> SourceOutcome:
        """The outcome ``to_dict`` gave (a part's summary), its error rebuilt in its class."""
        error = None
        if row.get("error"):
            found = row["error"]
            kind = next((c for c in ALL_CLASSES if c.code == found.get("class")), InternalError)
            error = kind(found.get("message") or "", hint=found.get("hint"), stage=found.get("stage"),
                         path=row.get("path"), source_id=row.get("source_id"))  # fmt: skip
        return cls(path=row["path"], source_id=row.get("source_id"), kind=row.get("kind"),
                   status=row["status"], chunks=row.get("chunks") or 0, error=error, file=row.get("file"))  # fmt: skip

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


class _JobsHere:
    """The jobs whose own flow run is in this process (a local worker runs its flows in its own
    threads), and the summaries of those that ended here lately: a process that follows a job it
    runs itself (``flows.follow``) learns its end from memory, not by querying the jobs table
    (tens of milliseconds of CPU each, taken from the job)."""

    KEPT = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._ended: dict[str, dict[str, Any]] = {}

    def start(self, job_id: str) -> None:
        with self._lock:
            self._running.add(job_id)
            self._ended.pop(job_id, None)  # a job run again (requeued) ends again

    def end(self, job_id: str, summary: dict[str, Any]) -> None:
        with self._lock:
            self._running.discard(job_id)
            if len(self._ended) >= self.KEPT:
                self._ended.pop(next(iter(self._ended)))
            self._ended[job_id] = summary

    def running(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._running

    def ended(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._ended.get(job_id)


jobs_here = _JobsHere()


@dataclass
class JobRun:
    """The flow body's record of a job; tasks never see it (they get ``context``). The job's own
    run (``part`` 0) counts as running in this process (:data:`jobs_here`) until its end."""

    job_id: str
    collection: str
    settings: Settings
    priority: str = "normal"
    flow_run_id: str | None = None
    """The job's flow run: the run it was submitted as (also for its parts)."""
    worker: str | None = None
    part: int = 0
    """Which part of a split job this is (0: the job's own run, which sums the parts up)."""
    part_run_id: str | None = None
    """The flow run of a later part (``part`` > 0)."""
    outcomes: list[SourceOutcome] = field(default_factory=list)
    embedded: int = 0
    cancelled: bool = False
    error: InletError | None = None
    """What stopped the whole run (the store out of reach, say), with or without sources: the
    job then ends failed however few files it had."""
    started: float = field(default_factory=time.perf_counter)
    _by_id: dict[str, SourceOutcome] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.part:
            jobs_here.start(self.job_id)

    @property
    def context(self) -> JobContext:
        return JobContext(
            self.job_id, self.collection, self.settings, self.flow_run_id, self.worker, self.part_run_id
        )

    def add(self, outcome: SourceOutcome) -> SourceOutcome:
        self.outcomes.append(outcome)
        return outcome

    def identify(self, outcome: SourceOutcome, source: Source) -> bool:
        """Attach a validated source to its outcome; False when the job already has these bytes
        (the first outcome of a source id is the one that gets processed)."""
        outcome.source_id, outcome.kind = source.source_id, source.kind
        first = source.source_id not in self._by_id
        self._by_id.setdefault(source.source_id, outcome)
        return first

    def outcome(self, source_id: str) -> SourceOutcome:
        return self._by_id[source_id]

    def cancel_requested(self) -> bool:
        """True once the job's flow run is being cancelled (see ``JobContext.cancel_requested``)."""
        if not self.cancelled:
            self.cancelled = self.context.cancel_requested()
        return self.cancelled

    # --- analytics rows -------------------------------------------------------------------
    def record_job(self, status: str | None, **values: Any) -> None:
        analytics.record(self.settings, "jobs", [{
            "job_id": self.job_id, "collection": self.collection, "priority": self.priority,
            "status": status, "flow_run_id": self.flow_run_id, "worker": self.worker, **values,
        }])  # fmt: skip

    def record_end(self) -> dict[str, Any]:
        """Write the job's final row (status, counts, the summary as JSON); its summary. A later
        part writes its summary in a row without a status: the job goes on until its first run
        has summed up every part."""
        summary = self.summary()
        if self.part:
            self.record_job(None, part=self.part, part_summary=json.dumps(summary, default=str))
            return summary
        counts = self.counts()
        recorded = json.dumps(summary, default=str)
        self.record_job(
            summary["status"],
            finished_at=analytics.now(),
            n_sources=len(self.outcomes),
            n_failed=counts["failed"],
            n_unchanged=counts["unchanged"],
            chunks_written=summary["chunks_written"],
            summary=recorded,
        )
        jobs_here.end(self.job_id, json.loads(recorded))  # as a reader of the row gets it
        return summary

    def absorb(self, summary: dict[str, Any]) -> None:
        """Add a part's summary (what its ``record_end`` returned) to this job's record."""
        for row in summary.get("sources", []):
            self.add(SourceOutcome.from_dict(row))
        self.embedded += int(summary.get("embedded") or 0)
        self.cancelled = self.cancelled or summary.get("status") == "cancelled"

    def note(self, outcome: SourceOutcome, stage: str, event: str) -> None:
        """Count an event a task wrote for ``outcome`` towards the job's progress."""
        outcome.stages.append((stage, event))

    def events(self, rows: list[tuple[SourceOutcome, str, str, dict[str, Any]]]) -> None:
        """Write the flow body's own ``(outcome, stage, event, values)`` rows and note them."""
        for outcome, stage, event, _ in rows:
            self.note(outcome, stage, event)
        self.context.events([(outcome.ref, stage, event, values) for outcome, stage, event, values in rows])

    def fail_run(self, error: InletError) -> None:
        """Record what stopped the whole run: an error row without a source, and every source
        not finished failed with it."""
        self.error = error
        analytics.record(self.settings, "errors", [{
            "job_id": self.job_id, "collection": self.collection, "stage": error.stage,
            "class": error.code, "message": error.message, "hint": error.hint,
            "retryable": error.retryable, "attempt": error.attempt, "detail": error.detail,
            "traceback": error.traceback if error.code == "internal" else None,
        }])  # fmt: skip
        for outcome in self.outcomes:
            if not outcome.finished:
                self.fail(outcome, classify(error, path=outcome.path, source_id=outcome.source_id))

    def fail(self, outcome: SourceOutcome, error: InletError) -> None:
        """Mark a source failed: an error row and a ``fail`` event at its stage."""
        outcome.status, outcome.error = "failed", error
        analytics.record(self.settings, "errors", [{
            "job_id": self.job_id, "collection": self.collection, "source_id": outcome.source_id,
            "file": outcome.file, "path": outcome.path, "stage": error.stage,
            "class": error.code, "message": error.message, "hint": error.hint,
            "retryable": error.retryable, "attempt": error.attempt, "detail": error.detail,
            "kind": outcome.kind, "traceback": error.traceback if error.code == "internal" else None,
        }])  # fmt: skip
        self.events([(outcome, error.stage or "validate", "fail", {
            "attempt": error.attempt, "error_class": error.code, "message": error.message,
        })])  # fmt: skip

    # --- progress --------------------------------------------------------------------------
    def progress(self) -> float:
        return progress.job_progress(progress.source_progress(o.kind, o.stages) for o in self.outcomes)

    def eta_s(self) -> float | None:
        return progress.eta_seconds(time.perf_counter() - self.started, self.progress())

    # --- the end -----------------------------------------------------------------------------
    def status(self) -> str:
        if self.cancelled:
            return "cancelled"
        failed = sum(o.status == "failed" for o in self.outcomes)
        if failed == len(self.outcomes) and (failed or self.error is not None):
            return "failed"
        return "partially_failed" if failed or self.error is not None else "completed"

    def summary(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "collection": self.collection,
            "priority": self.priority,
            "status": self.status(),
            "chunks_written": sum(o.chunks for o in self.outcomes if o.status == "ingested"),
            "embedded": self.embedded,
            "seconds": round(time.perf_counter() - self.started, 3),
            "flow_run_id": self.flow_run_id,
            **({"part": self.part, "part_run_id": self.part_run_id} if self.part else {}),
            "worker": self.worker,
            **({"error": self.error.to_dict()} if self.error is not None else {}),
            "sources": [o.to_dict() for o in self.outcomes],
        }

    def counts(self) -> dict[str, int]:
        return {
            status: sum(o.status == status for o in self.outcomes)
            for status in ("ingested", "unchanged", "failed", "cancelled")
        }


def source_values(source: Source) -> dict[str, Any]:
    """The event columns that describe a source."""
    return {"bytes": source.size}
