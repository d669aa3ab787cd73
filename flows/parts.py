"""A large job spread over the workers of a team's Prefect server: its parts.

On a team's server (server mode) a job with more files than ``part_size`` is split. The run the
job was submitted as (the *job run*) keeps the first ``part_size`` files and starts, for each
further ``part_size`` files, a run of the same ``ingest`` deployment on the job's queue, with the
job's id, the part's number and the job run's id as parameters (``part``, ``job_run_id``) and the
tag ``inlet-job-<job id>``. A file staged to the store is given to its part as its reference, so
the worker that runs the part fetches its own copy. Whichever worker is free takes a part. The job run, its own files
done, takes the parts that no worker has taken yet (it claims them as a worker would and runs
them in its own process, so one worker alone still finishes the job), waits for the parts running
elsewhere, and adds their summaries (``JobRun.absorb``) to write the job's end: a job's status,
progress and summary cover all of its parts, and it ends once, when its last part has.

- **Cancel**: a part also watches the job run, so ``inlet cancel`` or the Prefect UI's Cancel on
  the job run stops every part within a second; parts not started are set Cancelled.
- **A worker that died** (SIGKILL, power cut) leaves its run Running. Every ``inlet worker``
  sends a heartbeat every ``Settings.worker_heartbeat_s`` (also while it runs a flow) and names itself on the
  runs it claims (the run's ``infrastructure_pid``); a run whose worker has sent none for
  three heartbeats is put back on its queue by any idle worker or by the job run waiting for it,
  and runs again from what was written (DESIGN decision 1: no duplicate chunks); so is a run
  left Pending over ``flows.claims.PENDING_AT_MOST_S`` (claimed, never started).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from flows.job import CANCEL_CHECK_S, JobRun, SourceOutcome
from pipelines import analytics
from pipelines.config import get_settings
from pipelines.errors import InternalError

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

log = logging.getLogger("inlet.flows")

RunPart = Callable[[JobRun, list[str]], None]
"""Runs a part's files in this process and records its end (``flows.ingest``)."""


def job_tag(job_id: str) -> str:
    """The tag of every part run of a job: how the job's runs are found through the API."""
    return f"inlet-job-{job_id}"


def own_deployment() -> Any:
    """The deployment of this very flow run: None for a subflow (the inbox's jobs) or a flow
    called directly (``prefect.runtime.deployment.id`` would give a parent's)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    return run.deployment_id if run is not None else None


def spreads(deployment_id: Any) -> bool:
    """Whether a job run may start part runs: it is a run of a deployment, on a team's server (a
    local worker is the only worker of its home: parts would only add their cost)."""
    return deployment_id is not None and get_settings().active_mode == "server"


def part_runs(client: SyncPrefectClient, job_id: str) -> list[FlowRun]:
    """The part runs of a job, in part order."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[job_tag(job_id)]))
    )
    return sorted(runs, key=lambda r: int((r.parameters or {}).get("part") or 0))


def start_parts(job: JobRun, files: list[str], within: str | None, deployment_id: Any) -> list[str]:
    """Start one run of the deployment per ``part_size`` of ``files``; their ids. A job run that
    runs again (its worker died) finds the parts it started before and starts none."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    with get_client(sync_client=True) as client:
        found = part_runs(client, job.job_id)
    if found:
        return [str(r.id) for r in found]
    size = job.settings.part_size
    ids = []
    for number, start in enumerate(range(0, len(files), size), start=1):
        run = run_deployment(  # type: ignore[call-arg]  # _sync: see flows.submit
            deployment_id,
            parameters={
                "paths": files[start : start + size],
                "collection": job.collection,
                "job_id": job.job_id,
                "priority": job.priority,
                "settings": job.settings.model_dump(mode="json"),
                "within": within,
                "part": number,
                "job_run_id": job.flow_run_id,
            },
            work_queue_name=job.priority,
            job_variables={"env": {"INLET_HOME": str(job.settings.home)}},
            tags=[job_tag(job.job_id)],
            timeout=0,
            as_subflow=False,
            _sync=True,
        )
        if not isinstance(run, FlowRun):
            raise TypeError(f"run_deployment returned {type(run).__name__}, not a FlowRun")
        ids.append(str(run.id))
    log.info("job %s: %d files in %d parts of up to %d", job.job_id, len(files) + size, len(ids) + 1, size)
    return ids


FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def gather(job: JobRun, run_ids: list[str], run_here: RunPart) -> None:
    """Until every part has ended: run here the parts no worker took, put back those whose worker
    died, cancel them all when the job is cancelled; then add their summaries to ``job``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.cancel import cancel_flow_run
    from flows.claims import claim, requeue_orphans

    ended: dict[str, FlowRun] = {}
    pool = job.settings.work_pool
    with get_client(sync_client=True) as client:
        while len(ended) < len(run_ids):
            cancelled = job.cancel_requested()
            waiting = [UUID(i) for i in run_ids if i not in ended]
            runs = sorted(
                client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=waiting))),
                key=_number,
            )
            for run in runs:
                kind = run.state.type.value if run.state is not None else "SCHEDULED"
                if kind in FINAL:
                    ended[str(run.id)] = run
                elif cancelled:
                    cancel_flow_run(str(run.id))
                elif kind == "SCHEDULED" and claim(client, run):
                    log.info("job %s: part %s runs in the job's own run", job.job_id, _number(run))
                    _run_claimed(client, job, run, run_here)
                    break  # states changed meanwhile: read them again
            else:
                requeue_orphans(client, pool, [r for r in runs if str(r.id) not in ended], cancel=cancelled)
                time.sleep(CANCEL_CHECK_S)
    summaries = _part_summaries(job)
    for run_id in run_ids:
        run = ended[run_id]
        summary = summaries.get(_number(run))
        if summary is not None:
            job.absorb(summary)
        else:  # ended without its summary: cancelled before it started, or crashed
            _absorb_lost(job, run)


def _number(run: FlowRun) -> int:
    return int((run.parameters or {}).get("part") or 0)


def _run_claimed(client: SyncPrefectClient, job: JobRun, run: FlowRun, run_here: RunPart) -> None:
    """Run a claimed part inside this job run; its run then ends as the part did."""
    from prefect.states import Cancelled, Completed, Running

    message = f"run inside the job's run {job.flow_run_id}"
    client.set_flow_run_state(run.id, Running(message=message), force=True)  # not pending: it runs
    part = JobRun(job.job_id, job.collection, job.settings, job.priority, flow_run_id=job.flow_run_id,
                  worker=job.worker, part=_number(run), part_run_id=str(run.id))  # fmt: skip
    run_here(part, list((run.parameters or {}).get("paths") or []))
    state: Any = Cancelled(message=message) if part.cancelled else Completed(message=message)
    client.set_flow_run_state(run.id, state, force=True)


def _part_summaries(job: JobRun) -> dict[int, dict[str, Any]]:
    rows = analytics.query(
        job.settings,
        'SELECT part, arg_max(part_summary, "at") AS summary FROM jobs '
        "WHERE job_id = ? AND part IS NOT NULL AND part_summary IS NOT NULL GROUP BY part",
        [job.job_id],
    )
    return {int(r["part"]): json.loads(r["summary"]) for r in rows.iter_rows(named=True)}


def _absorb_lost(job: JobRun, run: FlowRun) -> None:
    """The files of a part that ended without a summary: cancelled, or failed as its run did."""
    state = run.state.type.value if run.state is not None else "CRASHED"
    for path in (run.parameters or {}).get("paths") or []:
        outcome = job.add(SourceOutcome(path=path, file=Path(path).name))
        if state == "CANCELLED":
            outcome.status = "cancelled"
            job.cancelled = True
        else:
            outcome.status = "failed"
            outcome.error = InternalError(f"its part's run ended {state.lower()} without a summary",
                                          path=path, stage="flow")  # fmt: skip


def cancel_parts(job_id: str) -> int:
    """Cancel the part runs of a job that have not ended; how many were asked."""
    from prefect.client.orchestration import get_client

    from flows.cancel import cancel_flow_run

    with get_client(sync_client=True) as client:
        runs = [r for r in part_runs(client, job_id) if r.state is None or r.state.type.value not in FINAL]
    for run in runs:
        cancel_flow_run(str(run.id))
    return len(runs)
