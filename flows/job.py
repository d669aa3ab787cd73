"""The record of one job as it runs: per-source outcomes, stage events, errors and progress.

inlet owns the truth about jobs (ECOSYSTEM section 9.3): every stage start and end, every retry
and every failure is written to the analytics store as it happens, whoever runs the flow; the
Prefect progress artifact mirrors the same progress for the Prefect UI.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pipelines import analytics, progress
from pipelines.config import Settings
from pipelines.errors import InletError
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
    flow_run_id: str | None = None
    outcomes: list[SourceOutcome] = field(default_factory=list)
    embedded: int = 0
    cancelled: bool = False
    started: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _by_id: dict[str, SourceOutcome] = field(default_factory=dict, repr=False)
    _cancel_checked: float = field(default=0.0, repr=False)

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
        """True once someone asked to cancel this job: its flow run is Cancelling (``inlet
        cancel``, the Prefect UI's Cancel button, ``set_flow_run_state``). The run's state is
        read at most every ``CANCEL_CHECK_S``, whichever thread asks."""
        if self.cancelled or self.flow_run_id is None:
            return self.cancelled
        with self._lock:
            if time.monotonic() - self._cancel_checked < CANCEL_CHECK_S:
                return self.cancelled
            self._cancel_checked = time.monotonic()
        self.cancelled = flow_run_cancelled(self.flow_run_id)
        return self.cancelled

    # --- analytics rows -------------------------------------------------------------------
    def record_job(self, status: str, **values: Any) -> None:
        analytics.record(self.settings, "jobs", [{
            "job_id": self.job_id, "collection": self.collection, "priority": self.priority,
            "status": status, "flow_run_id": self.flow_run_id, **values,
        }])  # fmt: skip

    def events(self, rows: list[tuple[SourceOutcome, str, str, dict[str, Any]]]) -> None:
        """Write ``(outcome, stage, event, values)`` rows as one file and note them for progress."""
        if not rows:
            return
        records = []
        with self._lock:
            for outcome, stage, event, values in rows:
                outcome.stages.append((stage, event))
                records.append({
                    "job_id": self.job_id, "collection": self.collection,
                    "source_id": outcome.source_id, "file": outcome.file, "kind": outcome.kind,
                    "path": outcome.path, "stage": stage, "event": event, "attempt": 1, **values,
                })  # fmt: skip
        analytics.record(self.settings, "events", records)

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
        with self._lock:
            values = [progress.source_progress(o.kind, o.stages) for o in self.outcomes]
        return progress.job_progress(values)

    def eta_s(self) -> float | None:
        return progress.eta_seconds(time.perf_counter() - self.started, self.progress())

    # --- the end -----------------------------------------------------------------------------
    def status(self) -> str:
        if self.cancelled:
            return "cancelled"
        failed = sum(o.status == "failed" for o in self.outcomes)
        if failed == 0:
            return "completed"
        return "failed" if failed == len(self.outcomes) else "partially_failed"

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
