"""Which worker runs which flow run: a worker claims a scheduled run (Pending, with its own id
written on it), and the runs of a worker that died (no heartbeat for :func:`dead_after_s`) are put
back on their queues for another worker. The worker's loop (:mod:`flows.worker`) and a split
job's run waiting for its parts (:mod:`flows.parts`) both use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from pipelines.config import Settings, get_settings

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

log = logging.getLogger("inlet.worker")

PENDING_AT_MOST_S = 30.0
"""A run pending longer than this was claimed by a worker that never started it: it runs again
(a worker starts a run it claimed within a second or two, seconds on a loaded machine)."""


_serving = False


def serve_as_worker() -> None:
    """Mark this process as an ``inlet worker``: the runs it executes were submitted by anyone,
    from anywhere, so they run with this machine's own settings (:func:`is_worker`)."""
    global _serving
    _serving = True


def is_worker() -> bool:
    """True in a process that serves a pool (see :func:`serve_as_worker`); a process that calls a
    flow itself, with its own settings, is not one."""
    return _serving


def heartbeat_s() -> float:
    """How often a worker tells the server it is alive (the UI shows it online):
    ``Settings.worker_heartbeat_s``."""
    return get_settings().worker_heartbeat_s


def dead_after_s() -> float:
    """A worker silent this long is taken for dead: the runs it claimed run again elsewhere."""
    return 3 * heartbeat_s()


def worker_id(settings: Settings) -> str:
    """This worker process as the server knows it: its heartbeats' name, written on the runs it
    claims (``infrastructure_pid``)."""
    host = socket.gethostname()
    name = settings.worker_name if settings.worker_name == host else f"{settings.worker_name}-{host}"
    return f"inlet-{name}-{os.getpid()}"


def claim(client: SyncPrefectClient, run: FlowRun) -> bool:
    """Move a scheduled run to Pending and name this worker on it; False when another worker
    took it (or it was cancelled)."""
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.states import Pending

    answer: Any = client.set_flow_run_state(run.id, Pending())
    if answer.status != SetStateStatus.ACCEPT:
        return False
    with contextlib.suppress(Exception):  # without it the run is only not recovered if this worker dies
        client.update_flow_run(run.id, infrastructure_pid=worker_id(get_settings()))
    return True


def live_workers(client: SyncPrefectClient, pool: str) -> set[str]:
    """The workers of ``pool`` that sent a heartbeat within :func:`dead_after_s`."""
    from prefect.types._datetime import now

    moment, dead_after = now("UTC"), dead_after_s()
    return {
        w.name
        for w in client.read_workers_for_work_pool(pool)
        if w.last_heartbeat_time is not None and (moment - w.last_heartbeat_time).total_seconds() < dead_after
    }


def requeue_orphans(
    client: SyncPrefectClient, pool: str, runs: list[FlowRun] | None = None, *, cancel: bool = False
) -> list[str]:
    """Put back on their queues the pending or running ``runs`` (default: all of the pool's)
    that no worker runs any more, so another worker runs them again (``cancel``: end them
    Cancelled instead); their ids. Orphans are the runs claimed by an inlet worker that is dead,
    and runs pending for :data:`PENDING_AT_MOST_S` whoever set them so."""
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled, Scheduled
    from prefect.types._datetime import now

    if runs is None:
        runs = _runs_in(client, pool, [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING])
    moment = now("UTC")

    def pending_too_long(run: FlowRun) -> bool:
        state = run.state
        return (
            state is not None
            and state.type == StateType.PENDING
            and (moment - state.timestamp).total_seconds() > PENDING_AT_MOST_S
        )

    claimed = [
        r for r in runs
        if r.state is not None and r.state.type in (StateType.PENDING, StateType.RUNNING, StateType.CANCELLING)
        and ((r.infrastructure_pid or "").startswith("inlet-") or pending_too_long(r))
    ]  # fmt: skip
    if not claimed:
        return []
    live = live_workers(client, pool)
    done = []
    for found in claimed:
        dead = found.infrastructure_pid
        if dead in live and not pending_too_long(found):
            continue
        run = client.read_flow_run(found.id)  # another worker may have put it back and taken it
        kind = run.state.type if run.state is not None else None
        if run.infrastructure_pid != dead or found.state is None or kind != found.state.type:
            continue
        done.append(str(run.id))
        if cancel or kind == StateType.CANCELLING:
            client.set_flow_run_state(
                run.id, Cancelled(message=f"cancelled; its worker {dead} died"), force=True
            )
        else:
            log.warning("flow run %s was left by worker %s (silent for %.0f s): it runs again",
                        run.id, dead, dead_after_s())  # fmt: skip
            client.set_flow_run_state(
                run.id, Scheduled(message=f"its worker {dead} died; it runs again"), force=True
            )
    return done


def _runs_in(client: SyncPrefectClient, pool: str, states: list[Any]) -> list[FlowRun]:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        WorkPoolFilter,
        WorkPoolFilterName,
    )

    return client.read_flow_runs(
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=states))),
    )
