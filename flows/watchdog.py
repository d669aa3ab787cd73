"""The worker's stuck-job watchdog: a job that stops making progress is requeued, then failed.

A thread of the worker (``flows.worker``) watches the flow run the worker executes. The run's
job is stuck once, for ``stuck_job_after_s``, it wrote nothing to the analytics store (no
event, error or job row; the same rule as the ``stuck`` column of ``inlet jobs``) and no long
loop of the engine checked its time limit (``pipelines.deadline.last_check``: a long
transcription checks segment by segment, so it is alive however long it takes). A thread hung
in Python or in native code cannot be stopped, so the watchdog drops it with the whole process:

- the first ``stuck_requeues`` times, it counts the requeue in the job's row (``requeues``,
  status ``queued``), puts the flow run back on its queue (Scheduled) and restarts the worker
  (a fresh process image); the job runs again from what was written (unchanged sources are
  skipped, DESIGN decision 1);
- stuck once more, the job's unfinished sources fail as ``stuck`` (``pipelines.errors.Stuck``),
  the job ends ``failed`` or ``partially_failed`` with its summary, its flow run Failed, and the
  restarted worker goes on with the next run.

A stuck job whose run was asked to cancel (hung too deep to see it) ends cancelled instead, as
its flow would have ended it. While a stage is alive but writes no event, the watchdog writes a sign of life for its job (a
``jobs`` row without a status), so ``inlet jobs`` does not call it stuck either. Runs without
an inlet job of their own (maintenance, the inbox, whose jobs are subflows) are not watched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flows.job import JobRun, SourceOutcome, flow_run_cancelled
from pipelines import analytics
from pipelines.config import Settings
from pipelines.deadline import last_check
from pipelines.errors import ALL_CLASSES, InletError, InternalError, Stuck
from pipelines.records import FINISHED_SOURCE_STATUSES

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

log = logging.getLogger("inlet.worker")

Verdict = Literal["ok", "requeue", "fail"]
Action = Literal["ok", "requeue", "fail", "cancelled"]


def check_every_s(settings: Settings) -> float:
    """How often the watchdog looks: a fifth of ``stuck_job_after_s``, from 1 to 30 seconds."""
    return min(max(settings.stuck_job_after_s / 5, 1.0), 30.0)


def verdict(quiet_s: float, requeues: int, settings: Settings) -> Verdict:
    """What to do with a job quiet for ``quiet_s`` that was requeued ``requeues`` times."""
    if quiet_s <= settings.stuck_job_after_s:
        return "ok"
    return "requeue" if requeues < settings.stuck_requeues else "fail"


def job_settings(run: FlowRun, fallback: Settings) -> Settings:
    """The settings a job was submitted with (its run's ``settings`` parameter), else ``fallback``."""
    raw = (run.parameters or {}).get("settings")
    if isinstance(raw, dict):
        with contextlib.suppress(ValueError):  # settings of another inlet version
            return Settings(**raw)
    return fallback


@dataclass
class Watched:
    """The flow run the worker executes now."""

    run_id: str
    job_id: str | None
    settings: Settings
    began: float
    """``time.monotonic()`` when the worker started executing it."""
    told: bool = False
    """Whether it was logged as stuck where the worker cannot restart itself."""


class Watchdog:
    """Watches the worker's current run from a daemon thread (``start``); ``restart(reason)``
    replaces the worker process and does not return (``None``: this process cannot restart
    itself, so a stuck job is only logged)."""

    def __init__(self, settings: Settings, restart: Callable[[str], None] | None) -> None:
        self.settings = settings
        self.restart = restart
        self._current: Watched | None = None
        self._lock = threading.Lock()

    def start(self) -> Watchdog:
        threading.Thread(target=self._loop, name="inlet-stuck-watchdog", daemon=True).start()
        return self

    @contextlib.contextmanager
    def watching(self, run: FlowRun) -> Iterator[None]:
        """Watch ``run`` while the block executes it."""
        job_id = (run.parameters or {}).get("job_id")
        watched = Watched(str(run.id), job_id if isinstance(job_id, str) else None,
                          job_settings(run, self.settings), time.monotonic())  # fmt: skip
        with self._lock:
            self._current = watched
        try:
            yield
        finally:
            with self._lock:
                self._current = None

    def _loop(self) -> None:
        while True:
            watched = self._current
            time.sleep(check_every_s(watched.settings if watched else self.settings))
            try:
                self.check()
            except Exception:  # noqa: BLE001 - a store or API hiccup: look again next time
                log.exception("the stuck-job watchdog could not check the current run")

    def check(self) -> Action | None:
        """Look at the current run once; what was done (None: no job to watch)."""
        watched = self._current
        if watched is None:
            return None
        settings = watched.settings
        looked, looked_at = time.monotonic(), analytics.now()  # the time a slow query takes is not quiet
        job = _job(settings, watched)
        if job is None or job["finished"]:
            return None
        since_event = _seconds_since(job["last_event_at"], looked_at)
        since_check = looked - last_check()
        since_start = looked - watched.began
        if since_check < min(since_event, since_start) and since_event > settings.stuck_job_after_s / 2:
            analytics.record(settings, "jobs", [{"job_id": job["job_id"]}])  # alive, quietly
        quiet = min(since_event, since_check, since_start)
        action: Action = verdict(quiet, job["requeues"], settings)
        if action == "ok":
            return action
        limit = f"no event for {quiet:.0f} s (INLET_STUCK_JOB_AFTER_S={settings.stuck_job_after_s:g})"
        if self.restart is None:
            if not watched.told:
                log.error("job %s is stuck: %s; this worker cannot restart itself", job["job_id"], limit)
                watched.told = True
            return "ok"
        with self._lock:
            if self._current is not watched:  # the run ended meanwhile
                return "ok"
            if flow_run_cancelled(watched.run_id):  # hung too deep to see the cancel itself
                reason = fail(settings, job, watched.run_id, limit, cancelled=True)
                action = "cancelled"
            elif action == "requeue":
                reason = requeue(settings, job, watched.run_id, limit)
            else:
                reason = fail(settings, job, watched.run_id, limit)
            self.restart(reason)  # logs the reason
        return action


def _job(settings: Settings, watched: Watched) -> dict[str, Any] | None:
    """The job row (``analytics.jobs``) of the watched run, found by its ``job_id`` parameter or
    by its flow run id; None for a run that is no job of its own."""
    job_id = watched.job_id
    if job_id is None:
        found = analytics.query(
            settings, "SELECT job_id FROM job_state WHERE flow_run_id = ?", [watched.run_id]
        )
        if found.height == 0:
            return None
        job_id = found["job_id"][0]
    rows = analytics.jobs(settings, job_id=job_id)
    if rows.height == 0 or rows["flow_run_id"][0] != watched.run_id:
        return None
    return rows.row(0, named=True)


def _seconds_since(moment: dt.datetime | None, now: dt.datetime | None = None) -> float:
    return math.inf if moment is None else ((now or analytics.now()) - moment).total_seconds()


def requeue(settings: Settings, job: dict[str, Any], run_id: str, limit: str) -> str:
    """Count the requeue in the job's row and put its flow run back on its queue; what was done."""
    from prefect.states import Scheduled

    count = job["requeues"] + 1
    analytics.record(settings, "jobs", [{
        "job_id": job["job_id"], "collection": job["collection"], "priority": job["priority"],
        "status": "queued", "flow_run_id": run_id, "requeues": count,
    }])  # fmt: skip
    what = f"requeued ({count} of {settings.stuck_requeues})"
    _set_state(run_id, Scheduled(message=f"stuck: {limit}; {what}"))
    return f"job {job['job_id']} (flow run {run_id}) is stuck: {limit}; {what}, the worker restarts"


def fail(settings: Settings, job: dict[str, Any], run_id: str, limit: str, *, cancelled: bool = False) -> str:
    """Fail the job's unfinished sources as ``stuck`` and end the job and its flow run; what
    was done. ``cancelled``: a cancel was asked of the hung job, so its unfinished sources are
    marked cancelled instead and it ends cancelled, as the flow would have ended it."""
    from prefect.states import Cancelled, Completed, Failed

    run = _job_run(settings, job, run_id)
    times = "once" if job["requeues"] == 1 else f"{job['requeues']} times"
    message = f"No progress: {limit}" + (f", also after being requeued {times}" if job["requeues"] else "")
    sources = analytics.job_sources(settings, job["job_id"])
    for row in sources.iter_rows(named=True):
        outcome = run.add(SourceOutcome(path=row["path"] or row["file"] or "", source_id=row["source_id"],
                                        kind=row["kind"], file=row["file"], chunks=row["chunks"] or 0))  # fmt: skip
        if row["status"] in FINISHED_SOURCE_STATUSES:
            outcome.status = row["status"]
            outcome.error = _recorded_error(row) if row["status"] == "failed" else None
        elif cancelled:
            outcome.status = "cancelled"
            run.events([(outcome, "index", "cancel", {})])
        else:
            run.fail(outcome, Stuck(f"{message}, in its {row['stage']} stage", path=outcome.path,
                                    source_id=row["source_id"], stage=row["stage"], attempt=row["attempts"] or 1))  # fmt: skip
    run.cancelled = cancelled
    if not run.outcomes and not cancelled:  # stuck before its files were looked at: each path fails
        given = analytics.query(settings, "SELECT paths FROM job_state WHERE job_id = ?", [job["job_id"]])
        for path in json.loads((given["paths"][0] if given.height else None) or "[]"):
            outcome = run.add(SourceOutcome(path=path, file=Path(path).name))
            run.fail(outcome, Stuck(f"{message}, before its files were checked", path=path, stage="validate"))
    summary = run.record_end()
    if cancelled:
        _set_state(run_id, Cancelled(message=f"stuck: {limit}; cancelled; finished sources kept"))
        return f"job {job['job_id']} (flow run {run_id}) is stuck and was cancelled: {limit}; the worker restarts"
    state = Completed if summary["status"] == "completed" else Failed
    _set_state(run_id, state(message=f"stuck: {limit}; unfinished sources failed as stuck"))
    stuck = sum(o.error is not None and o.error.code == Stuck.code for o in run.outcomes)
    return (f"job {job['job_id']} (flow run {run_id}) is stuck again: {limit}; {stuck} unfinished sources "
            f"failed as stuck, the job ends {summary['status']}, the worker restarts")  # fmt: skip


def _job_run(settings: Settings, job: dict[str, Any], run_id: str) -> JobRun:
    """A ``JobRun`` standing for the stuck job, to record its end as the flow would have."""
    run = JobRun(job["job_id"], job["collection"], settings, job["priority"] or "normal", flow_run_id=run_id)
    began = job["started_at"] or job["submitted_at"]
    if began is not None:
        run.started = time.perf_counter() - _seconds_since(began)
    return run


def _recorded_error(row: dict[str, Any]) -> InletError:
    """The latest error recorded for a failed source (``analytics.job_sources`` row), rebuilt."""
    cls = next((c for c in ALL_CLASSES if c.code == row["error_class"]), InternalError)
    return cls(row["error_message"] or "", hint=row["error_hint"], stage=row["stage"])


def _set_state(run_id: str, state: Any) -> None:
    """Force the flow run's state; logged, not raised, when the API cannot be reached (the next
    worker puts back a run left running, in embedded mode)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(UUID(run_id), state, force=True)
    except Exception:  # noqa: BLE001
        log.exception("could not set the state of flow run %s", run_id)
