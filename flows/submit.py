"""Submitting, cancelling and retrying jobs: the one code path the CLI, notebooks and the
dashboard use, whichever mode runs the work.

- **embedded** (nothing configured): the job goes to the local queue (``pipelines.queue``) and a
  local worker process (``flows.worker``) is started if none serves this home.
- **server** (``PREFECT_API_URL`` set, or ``mode=server``): the job becomes a run of the ``ingest``
  deployment on the work queue named after its priority; a Prefect worker on the ``inlet`` pool
  runs it. ``prefect deploy --all`` creates the pool and its queues (see ``flows.server``).

Either way the job gets a ``queued`` row in the analytics store at once, and the flow writes its
summary to ``home/queue/done`` when it ends, which is what ``wait`` follows.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from uuid import UUID

from pipelines import analytics
from pipelines.config import Settings
from pipelines.queue import JobQueue, JobRequest, WorkerLock, check_priority
from pipelines.records import FINISHED_STATUSES

DEPLOYMENT = "ingest/ingest"
"""The deployment that runs submitted jobs in server mode (``flow name/deployment name``)."""


def _record(settings: Settings, request: JobRequest, status: str, **values: Any) -> None:
    analytics.record(settings, "jobs", [{
        "job_id": request.job_id, "collection": request.collection, "priority": request.priority,
        "status": status, **values,
    }])  # fmt: skip


def submit(request: JobRequest, settings: Settings) -> str:
    """Queue ``request`` for the local worker or the Prefect server; its job id, at once."""
    check_priority(request.priority)
    request.settings = request.settings or settings.model_dump(mode="json")
    submitted = dt.datetime.fromisoformat(request.submitted_at)
    paths = json.dumps(request.paths)
    if settings.active_mode == "server":
        flow_run_id = create_deployment_run(request, settings)
        _record(settings, request, "queued", submitted_at=submitted, paths=paths, flow_run_id=flow_run_id)
        return request.job_id
    _record(settings, request, "queued", submitted_at=submitted, paths=paths)
    JobQueue(settings).submit(request)
    ensure_worker(settings)
    return request.job_id


def create_deployment_run(request: JobRequest, settings: Settings) -> str:
    """A run of the ``ingest`` deployment on the queue of the job's priority; its id."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    _ensure_pool_once()
    # async_dispatch takes _sync (the FlowRun itself, also under a notebook's event loop); the stub lacks it
    flow_run = run_deployment(  # type: ignore[call-arg]
        DEPLOYMENT,
        parameters={
            "paths": request.paths,
            "collection": request.collection,
            "job_id": request.job_id,
            "priority": request.priority,
        },
        work_queue_name=request.priority,
        job_variables={"env": {"INLET_HOME": str(settings.home)}},
        timeout=0,
        as_subflow=False,
        _sync=True,
    )
    if not isinstance(flow_run, FlowRun):
        raise TypeError(f"run_deployment returned {type(flow_run).__name__}, not a FlowRun")
    return str(flow_run.id)


@functools.cache
def _ensure_pool_once() -> None:
    """On first use in a process: the pool and its priority queues exist, with the right limits."""
    from flows.server import ensure_work_pool

    ensure_work_pool()


def worker_pid(settings: Settings) -> int | None:
    """The pid of the local worker serving this home, or None."""
    return WorkerLock(settings).holder()


WORKER_LOG_BYTES = 10 * 2**20
WORKER_LOGS_KEPT = 3


def rotate_log(path: Path, max_bytes: int = WORKER_LOG_BYTES, keep: int = WORKER_LOGS_KEPT) -> None:
    """Before a new worker appends to ``path``: once it is over ``max_bytes``, it becomes
    ``path.1`` (older ones ``.2`` … ``.keep``; the oldest is dropped)."""
    try:
        if path.stat().st_size <= max_bytes:
            return
    except FileNotFoundError:
        return
    for n in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{n + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))


def ensure_worker(settings: Settings) -> int | None:
    """Start a local worker for this home unless one runs; the pid of the one started."""
    if WorkerLock(settings).held():
        return None
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "INLET_HOME": str(settings.home)}
    rotate_log(logs / "worker.log")
    with open(logs / "worker.log", "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.worker"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            cwd=str(Path(__file__).resolve().parents[1]),
            start_new_session=True,  # survives the submitter: a closed notebook or tab
        )
    # Reap it when it stops, so a long-lived submitter (the dashboard) keeps no zombie.
    threading.Thread(target=process.wait, name="inlet-worker-reaper", daemon=True).start()
    return process.pid


def revive(job_id: str, settings: Settings) -> int | None:
    """If ``job_id`` waits or runs in the local queue but no worker serves the home (it died:
    killed, out of memory), start one; it puts the job back in the queue and runs it."""
    if JobQueue(settings).state(job_id) in ("pending", "running"):
        return ensure_worker(settings)
    return None


def keep_serving(settings: Settings) -> int | None:
    """In embedded mode, start a local worker when jobs wait or run and none serves the home
    (the last one died or stepped down); the pid of the one started."""
    if settings.active_mode != "embedded" or not JobQueue(settings).has_work():
        return None
    return ensure_worker(settings)


def cancel(job_id: str, settings: Settings) -> str:
    """Cancel a job: ``cancelled`` (it was waiting and will not run), ``cancelling`` (it runs
    and stops at its next step), ``finished`` (it had already ended) or ``unknown``."""
    queue = JobQueue(settings)
    request = queue.dequeue(job_id)
    if request is not None:
        _cancelled(settings, request.job_id, request.collection, request.priority)
        return "cancelled"
    state = queue.state(job_id)
    if state == "done":
        return "finished"
    row = _job_row(settings, job_id)
    if state is None and row is None:
        return "unknown"
    if row is not None and row["status"] in FINISHED_STATUSES:
        return "finished"
    if row is not None and row["status"] == "queued" and row.get("flow_run_id"):
        if _cancel_scheduled_run(row["flow_run_id"]):
            _cancelled(settings, job_id, row["collection"], row["priority"])
            return "cancelled"
    queue.request_cancel(job_id)
    return "cancelling"


def _cancelled(settings: Settings, job_id: str, collection: str, priority: str) -> None:
    analytics.record(settings, "jobs", [{
        "job_id": job_id, "collection": collection, "priority": priority, "status": "cancelled",
        "finished_at": analytics.now(), "n_sources": 0,
    }])  # fmt: skip
    JobQueue(settings).finish(job_id, {
        "job_id": job_id, "collection": collection, "priority": priority, "status": "cancelled",
        "chunks_written": 0, "embedded": 0, "seconds": 0.0, "sources": [],
    })  # fmt: skip


def _cancel_scheduled_run(flow_run_id: str) -> bool:
    """Cancel a deployment run that has not started; False when it already runs."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        if run.state is None or run.state.type.value not in ("SCHEDULED", "PENDING"):
            return False
        client.set_flow_run_state(flow_run_id, Cancelled(message="cancelled by inlet cancel"), force=True)
        return True


def _job_row(settings: Settings, job_id: str) -> dict[str, Any] | None:
    rows = analytics.query(settings, "SELECT * FROM job_state WHERE job_id = ?", [job_id])
    return rows.row(0, named=True) if rows.height else None


def failed_paths(
    settings: Settings, job_id: str | None = None, since: dt.datetime | None = None
) -> dict[str, list[str]]:
    """Paths of the sources that failed (in ``job_id``, or in any job since ``since``), by
    collection, leaving out those ingested by a later job."""
    where: list[str] = []
    params: list[Any] = []
    if job_id:
        where.append("e.job_id = ?")
        params.append(job_id)
    if since:
        where.append('e."at" >= ?')
        params.append(since)
    sql = f"""
        SELECT e.collection, e.path FROM errors e
        WHERE {" AND ".join(where) or "TRUE"} AND e.path IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM events v
            WHERE v.collection = e.collection AND (v.source_id = e.source_id OR v.path = e.path)
              AND v.stage = 'index' AND v.event = 'end' AND v."at" > e."at")
        GROUP BY e.collection, e.path ORDER BY e.collection, e.path
    """
    by_collection: dict[str, list[str]] = {}
    for row in analytics.query(settings, sql, params).iter_rows(named=True):
        by_collection.setdefault(row["collection"], []).append(row["path"])
    return by_collection


def retry(settings: Settings, job_id: str | None = None, since: dt.datetime | None = None,
          priority: str = "normal") -> list[str]:  # fmt: skip
    """Submit the failed sources again (of ``job_id``, or of every job since ``since``): one
    new job per collection; their ids (none when nothing failed)."""
    if not job_id and not since:
        raise ValueError("retry needs a job id or a time (since=...)")
    jobs = []
    for collection, paths in failed_paths(settings, job_id, since).items():
        request = JobRequest(paths=paths, collection=collection, priority=priority, retry_of=job_id)
        jobs.append(submit(request, settings))
    return jobs
