"""Submitting, cancelling and retrying jobs: the one code path the CLI, notebooks, the
dashboard and the HTTP API use, in both modes.

A job is a run of the ``ingest`` deployment on the work queue named after its priority, on
the ``inlet`` work pool of a Prefect server:

- **embedded** (nothing configured): the home's local server, run by the local worker
  (``flows.worker``), which is started here when none serves the home;
- **server** (``PREFECT_API_URL`` set, or ``mode=server``): the configured server, where
  ``inlet worker`` (or a Prefect process worker) runs the jobs.

The job gets a ``queued`` row in the analytics store at once, with its flow run's id; its
status, progress and summary come from the analytics store, which the flow writes as it runs.
Cancel is Prefect's: a run that has not started is set Cancelled (it never runs), a running one
Cancelling, which the flow sees within half a second (``flows.job.JobRun.cancel_requested``),
the same as the Cancel button of the Prefect UI. A job split over workers (``flows.parts``) is
cancelled with its run: its parts watch that run too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

from flows.cancel import cancel_flow_run
from flows.import_ahead import import_ahead
from flows.local_worker import ensure_worker
from flows.worker_lock import WorkerLock, wake
from pipelines.config import Settings
from pipelines.queue import JobRequest, check_priority
from pipelines.records import FINISHED_STATUSES

# the analytics store (DuckDB, polars) and httpx are imported where used: a submit or a wait
# that the local worker answers (``flows.query_socket``) needs neither in the asking process

DEPLOYMENT = "ingest/ingest"
"""The deployment that runs submitted jobs (``flow name/deployment name``)."""

SERVER_WAIT_S = 240.0
"""How long a submitter waits for a new local worker's server (a new home on a loaded machine)."""


def _record(settings: Settings, request: JobRequest, status: str, **values: Any) -> None:
    from pipelines import analytics

    analytics.record(settings, "jobs", [{
        "job_id": request.job_id, "collection": request.collection, "priority": request.priority,
        "status": status, **values,
    }])  # fmt: skip


def submit(request: JobRequest, settings: Settings) -> str:
    """Create the job's flow run on the queue of its priority; its job id.

    In embedded mode the home's local worker, when one runs, submits it (over its socket,
    ``flows.query_socket``): it has Prefect's client loaded, which this process would take
    1.5-3 s to import. Otherwise, or when it does not answer, this process submits it.
    """
    check_priority(request.priority)
    request.settings = request.settings or settings.model_dump(mode="json")
    if settings.active_mode == "embedded":
        from flows.query_socket import submit_in_worker

        if submit_in_worker(settings, request) is not None or taken_by_worker(settings, request.job_id):
            return request.job_id
    return submit_here(request, settings)


def submit_here(request: JobRequest, settings: Settings) -> str:
    """:func:`submit` in this process: the flow run through Prefect's client; the job id."""
    check_priority(request.priority)
    request.settings = request.settings or settings.model_dump(mode="json")
    submitted = dt.datetime.fromisoformat(request.submitted_at)
    import httpx

    try:
        with api(settings):
            flow_run_id = create_deployment_run(request, settings)
    except httpx.ConnectError:
        if settings.active_mode != "embedded":
            raise
        # the local worker stopped (idle, or its code changed) between our reading its address
        # and our call: the next worker publishes a new one
        time.sleep(0.5)
        with api(settings):
            flow_run_id = create_deployment_run(request, settings)
    _record(settings, request, "queued", submitted_at=submitted, paths=json.dumps(request.paths),
            flow_run_id=flow_run_id)  # fmt: skip
    if settings.active_mode == "embedded":
        wake(settings)  # the local worker asks its server for runs at once
    return request.job_id


def create_deployment_run(request: JobRequest, settings: Settings) -> str:
    """A run of the ``ingest`` deployment on the queue of the job's priority; its id."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    if settings.active_mode == "server":
        _ensure_pool_once(settings.configured_api_url or "")
    # async_dispatch takes _sync (the FlowRun itself, also under a notebook's event loop); the stub lacks it
    flow_run = run_deployment(  # type: ignore[call-arg]
        DEPLOYMENT,
        parameters={
            "paths": request.paths,
            "collection": request.collection,
            "job_id": request.job_id,
            "priority": request.priority,
            "settings": request.settings,
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


_POOLS_READY: set[str] = set()


def _ensure_pool_once(url: str) -> None:
    """On first use of a server in a process: the pool, its queues and the deployments exist."""
    if url in _POOLS_READY:
        return
    from flows.deployments import ensure_deployments
    from flows.server import ensure_work_pool

    ensure_work_pool()
    ensure_deployments()
    _POOLS_READY.add(url)


@contextlib.contextmanager
def api(settings: Settings, start: bool = True) -> Iterator[str | None]:
    """Point this thread's Prefect client at the server of this home's jobs: the configured
    one, or the local worker's server (started when ``start`` and none runs); yields its
    address (None: no server, and none started)."""
    url = settings.prefect_api_url
    if url is None and settings.active_mode == "embedded" and start:
        url = local_server(settings)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if url is None or url == (PREFECT_API_URL.value() or "").rstrip("/"):
        yield url
        return
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url


def local_server(settings: Settings, timeout_s: float = SERVER_WAIT_S) -> str:
    """The address of this home's local Prefect server, starting a local worker (which starts
    the server) when none serves the home."""
    deadline = time.monotonic() + timeout_s
    importing = None
    if settings.local_api_url() is None:  # what a submit needs of Prefect, while the server starts
        importing = import_ahead(
            "prefect.client.schemas.objects", "prefect.deployments", name="inlet-import-prefect"
        )
    while (url := settings.local_api_url()) is None:
        ensure_worker(settings)  # none, or one stepping down: the next one publishes again
        if time.monotonic() > deadline:
            log = settings.home / "logs" / "worker.log"
            raise TimeoutError(
                f"the local worker's Prefect server did not start in {timeout_s:.0f} s; see {log}"
            )
        time.sleep(0.1)
    if importing is not None:
        importing.join()  # the caller imports the rest of Prefect's client once this is done
    return url


def revive(job_id: str, settings: Settings) -> int | None:
    """If ``job_id`` has not ended and no local worker serves the home (it died: killed, out
    of memory), start one; it puts the job's run back and runs it."""
    if settings.active_mode != "embedded":
        return None
    row = job_row(settings, job_id)
    if row is not None and row["status"] in FINISHED_STATUSES:
        return None
    return ensure_worker(settings)


def keep_serving(settings: Settings) -> int | None:
    """In embedded mode, start a local worker when jobs wait or run and none serves the home
    (the last one died or stepped down); the pid of the one started."""
    from pipelines import analytics

    if settings.active_mode != "embedded":
        return None
    if WorkerLock(settings).held():
        return None
    pending = analytics.query(
        settings, "SELECT count(*) AS n FROM job_state WHERE status IN ('queued', 'running')"
    )["n"][0]
    return ensure_worker(settings) if pending else None


def cancel(job_id: str, settings: Settings) -> str:
    """Cancel a job: ``cancelled`` (it was waiting and will not run), ``cancelling`` (it runs
    and stops within a second or two), ``finished`` (it had already ended) or ``unknown``."""
    row = job_row(settings, job_id)
    if row is None:
        return "unknown"
    if row["status"] in FINISHED_STATUSES:
        return "finished"
    flow_run_id = row.get("flow_run_id")
    if not flow_run_id:
        return "unknown"
    with api(settings):
        outcome = cancel_flow_run(flow_run_id)
        if outcome == "cancelling":  # a split job's parts watch its run; the ones waiting never start
            from flows.parts import cancel_parts

            cancel_parts(job_id)
    if outcome == "cancelled":
        _cancelled(settings, job_id, row["collection"], row["priority"], flow_run_id)
    return outcome


def _cancelled(settings: Settings, job_id: str, collection: str, priority: str, flow_run_id: str) -> None:
    from pipelines import analytics

    analytics.record(settings, "jobs", [{
        "job_id": job_id, "collection": collection, "priority": priority, "status": "cancelled",
        "finished_at": analytics.now(), "n_sources": 0, "flow_run_id": flow_run_id,
        "summary": json.dumps({
            "job_id": job_id, "collection": collection, "priority": priority, "status": "cancelled",
            "chunks_written": 0, "embedded": 0, "seconds": 0.0, "flow_run_id": flow_run_id, "sources": [],
        }),
    }])  # fmt: skip


def taken_by_worker(settings: Settings, job_id: str) -> bool:
    """True when the job is known though the worker asked to submit it never answered: it took
    the job and stopped before its answer. The submitter follows that job, not a second one."""
    return job_row(settings, job_id) is not None


def job_row(settings: Settings, job_id: str) -> dict[str, Any] | None:
    """The job's current row (``job_state``), or None for a job the store does not know."""
    from pipelines import analytics

    rows = analytics.query(settings, "SELECT * FROM job_state WHERE job_id = ?", [job_id])
    return rows.row(0, named=True) if rows.height else None


def result(settings: Settings, job_id: str) -> dict[str, Any] | None:
    """The summary of a finished job (what its flow returned), or None while it waits or runs."""
    row = job_row(settings, job_id)
    if row is None or row["status"] not in FINISHED_STATUSES:
        return None
    if row.get("summary"):
        summary: dict[str, Any] = json.loads(row["summary"])
        return summary
    return {"job_id": job_id, "collection": row["collection"], "priority": row["priority"],
            "status": row["status"], "chunks_written": row.get("chunks_written") or 0,
            "embedded": 0, "seconds": 0.0, "flow_run_id": row.get("flow_run_id"), "sources": []}  # fmt: skip


def retry(settings: Settings, job_id: str | None = None, since: dt.datetime | None = None,
          priority: str = "normal") -> list[str]:  # fmt: skip
    """Submit the failed sources again (of ``job_id``, or of every job since ``since``): one
    new job per collection; their ids (none when nothing failed)."""
    from pipelines import analytics

    if not job_id and not since:
        raise ValueError("retry needs a job id or a time (since=...)")
    jobs = []
    for collection, paths in analytics.failed_paths(settings, job_id, since).items():
        request = JobRequest(paths=paths, collection=collection, priority=priority, retry_of=job_id)
        jobs.append(submit(request, settings))
    return jobs
