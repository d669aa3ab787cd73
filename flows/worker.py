"""The inlet worker: runs the flow runs of the ``inlet`` work pool inside its own process.

Jobs are runs of the ``ingest`` deployment (and the other deployments of ``prefect.yaml``) on
the queue of their priority. This worker polls the pool's queues, high before normal before
low, claims one scheduled run at a time and executes it here through Prefect's flow engine, so
the models stay loaded between jobs (a process worker would load them again for every run;
DESIGN decision 7).

- **embedded mode** (nothing configured): started on demand by whoever submits a job (CLI,
  notebook, dashboard, HTTP API), it starts the home's local Prefect server
  (``flows.local_server``: the UI, the scheduler), creates the pool, its queues and the
  deployments, publishes the server's address in the home and stops (with its server) after
  ``worker_idle_s`` without work. Meanwhile it answers the ``inlet`` command's searches on
  a socket in the home (``flows.query_server``); a search counts as work. A file lock makes it
  the only worker of its home; on start it puts back the runs a worker that died left running
  or pending, so they run again and finish (writes are idempotent, DESIGN decision 1). Runs
  missed while no worker was up wait as late runs and run when it next starts.
- **server mode** (``PREFECT_API_URL``): ``inlet worker --name NAME`` on each machine, in the
  foreground (the name defaults to the host name; the analytics record it with every stage
  event). Each worker sends a heartbeat every ``Settings.worker_heartbeat_s``, also while it runs a flow, and
  names itself on the runs it claims; an idle worker puts back on their queues the runs of a
  worker silent for three heartbeats (killed, or its machine gone), so another one finishes
  them. A large job is split into parts that any free worker takes (``flows.parts``). A job's
  settings are its submitter's, but the worker runs it with its own home, model folder, name,
  devices, threads and concurrency limits (``pipelines.config.MACHINE_FIELDS``).

Either way a watchdog thread (``flows.watchdog``) watches the run under way: a job without
progress for ``stuck_job_after_s`` is put back on its queue and the worker restarts itself
(dropping the hung work), ``stuck_requeues`` times; stuck once more, its unfinished sources fail
as ``stuck`` and the restarted worker takes the next run.

    INLET_HOME=DIR python -m flows.worker [--idle-s SECONDS] [--name NAME]     (or: inlet worker)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from flows.claims import claim, heartbeat_s, live_workers, requeue_orphans, serve_as_worker, worker_id
from flows.import_ahead import import_ahead
from flows.local_worker import ensure_worker
from flows.query_server import QuerySocket, last_answered
from flows.worker_lock import WOKEN_HERE, WorkerLock, wake_mark
from pipelines.config import Settings, get_settings
from pipelines.queue import PRIORITIES

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

    from flows.watchdog import Watchdog

log = logging.getLogger("inlet.worker")

POLL_S = 0.25
"""How often an idle worker asks the server for scheduled runs (one cheap API call); a job
waits half of it on average before it starts. A local worker asks this often only when woken
(:func:`flows.worker_lock.wake`); else every :data:`LOCAL_ASK_S`."""
LOCAL_ASK_S = 5.0
"""How often an idle local worker asks its server for runs nobody woke it for (a schedule's,
or one started from the Prefect UI)."""
ORPHANS_EVERY_S = 5.0
"""How often an idle worker of a team looks for the runs of dead workers, and for workers that
came online, to widen the pool for them (three API reads)."""
STAMP_EVERY_S = 2.0
CODE = Path(__file__).resolve().parents[1]


def code_stamp() -> float:
    """The newest modification time of inlet's code: a worker whose code changed steps down."""
    return max(
        (p.stat().st_mtime for package in ("pipelines", "flows") for p in (CODE / package).rglob("*.py")),
        default=0.0,
    )


def _flows() -> dict[str, Any]:
    """inlet's flows by name, imported once: the models they load stay warm."""
    from flows.deployments import deployment_specs

    return {spec["flow"].name: spec["flow"] for spec in deployment_specs()}


def scheduled_runs(client: SyncPrefectClient, pool: str) -> list[FlowRun]:
    """Runs of the pool due now, in the order they should run: queue priority, then time."""
    from prefect.types._datetime import now

    due = client.get_scheduled_flow_runs_for_work_pool(pool, list(PRIORITIES), scheduled_before=now("UTC"))
    runs = [r.flow_run for r in due]
    late = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(
        runs,
        key=lambda r: (
            PRIORITIES.get(r.work_queue_name or "", len(PRIORITIES)),
            r.expected_start_time or late,
        ),
    )


def recover(client: SyncPrefectClient, pool: str) -> list[str]:
    """Put back the runs of ``pool`` that a dead worker left pending or running (the only
    worker of a home calls this at start); end those it left cancelling. Their ids."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        WorkPoolFilter,
        WorkPoolFilterName,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled, Scheduled

    stuck = client.read_flow_runs(
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING, StateType.CANCELLING])
            )
        ),
    )
    recovered = []
    for run in stuck:
        if run.state is not None and run.state.type == StateType.CANCELLING:
            client.set_flow_run_state(
                run.id, Cancelled(message="cancelled while its worker was down"), force=True
            )
            _record_cancelled(run)
        else:
            client.set_flow_run_state(run.id, Scheduled(message="its worker died; it runs again"), force=True)
        recovered.append(str(run.id))
    return recovered


def _record_cancelled(run: FlowRun) -> None:
    """The analytics row of a job whose run ended cancelled without reaching its flow body."""
    from pipelines import analytics

    params = run.parameters or {}
    job_id = params.get("job_id")
    if not job_id:
        return
    raw = params.get("settings")
    settings = Settings(**raw) if isinstance(raw, dict) else get_settings()
    analytics.record(settings, "jobs", [{
        "job_id": job_id, "collection": params.get("collection"), "priority": params.get("priority"),
        "status": "cancelled", "finished_at": analytics.now(), "flow_run_id": str(run.id),
    }])  # fmt: skip


def execute(client: SyncPrefectClient, run: FlowRun, flows: dict[str, Any]) -> str:
    """Run a claimed flow run here, through Prefect's flow engine; its final state's name."""
    from prefect.client.schemas.objects import StateType
    from prefect.flow_engine import run_flow
    from prefect.states import Cancelled

    flow = flows.get(client.read_flow(run.flow_id).name)
    if flow is None:
        from prefect.states import Failed

        client.set_flow_run_state(
            run.id, Failed(message="inlet's worker does not know this flow"), force=True
        )
        return "Failed"
    state: Any = run_flow(flow, flow_run=client.read_flow_run(run.id), return_type="state")
    try:
        result = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - no result: the run did not complete (Cancelling)
        result = None
    stopped = isinstance(result, dict) and result.get("status") == "cancelled"
    if stopped or state.type == StateType.CANCELLING:
        # the flow stopped early on a Cancel (the UI's button, inlet cancel): the run says so
        client.set_flow_run_state(run.id, Cancelled(message="cancelled; finished sources kept"), force=True)
        return "Cancelled"
    return str(state.name)


def serve(settings: Settings, idle_s: float | None = None) -> int:
    """Run flow runs until none comes for ``idle_s``; how many ran.

    Returns at once (0) when another local worker already serves this home (embedded mode; on a
    team's server several workers may share a home, as machines share a mounted folder).
    """
    lock = WorkerLock(settings)
    if settings.active_mode == "embedded" and not lock.acquire():
        log.info("another worker serves %s", settings.home)
        return 0
    server = None
    queries = None
    _warm_models(settings)
    try:
        if settings.active_mode == "embedded":
            # the flows and Prefect's flow machinery, 2-3 s, on the core the server's start leaves
            importing = import_ahead(
                "flows.deployments", "flows.server", "flows.tasks", name="inlet-import-flows"
            )
            from flows.local_server import LocalServer

            queries = QuerySocket(settings)  # answers searches while the server starts, too
            queries.start()
            server = LocalServer(settings)
            started = time.monotonic()
            url = server.start()
            importing.join()  # before this thread imports Prefect or points it at the server
            _point_prefect_at(url)
            log.info("local Prefect server at %s (UI %s), up in %.1f s",
                     server.url, server.url[: -len("/api")], time.monotonic() - started)  # fmt: skip
        ran, waiting = _serve(settings, idle_s, server)
    finally:
        if queries is not None:
            queries.stop()
        if server is not None:
            server.stop()
            _point_prefect_at(None)
        lock.release()
    if waiting:  # recycled, or runs submitted while this worker was stepping down: hand over
        log.info("handing over to a new worker process")
        if _MAIN_PROCESS:  # the same process, started afresh: a foreground `inlet worker` goes on
            _reexec(settings.worker_idle_s if idle_s is None else idle_s)
        if server is not None:
            ensure_worker(settings)
    return ran


def _warm_models(settings: Settings) -> threading.Thread:
    """Load the embedding model in the background while the Prefect server starts: each takes
    seconds, and the first job needs both."""

    def load() -> None:
        from pipelines.embed import load_embedder

        try:
            load_embedder(settings)
        except Exception:  # noqa: BLE001 - the job that needs the model reports why it failed
            log.warning("the embedding model could not be loaded ahead of the first job", exc_info=True)

    thread = threading.Thread(target=load, name="inlet-warm-models", daemon=True)
    thread.start()
    return thread


_MAIN_PROCESS = False
"""True in a process that runs the worker as its program (``main``), which may replace itself."""


def _reexec(idle_s: float) -> NoReturn:
    """Replace this process with a fresh worker (same pid, new process image); never returns."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os.execv(sys.executable, [sys.executable, "-m", "flows.worker", "--idle-s", repr(idle_s)])


def restart_now(server: Any, idle_s: float, reason: str) -> NoReturn:
    """Replace this worker with a fresh process at once, from any thread (the stuck-job watchdog,
    ``flows.watchdog``): the work under way is dropped with the old process image, a hung thread
    too; what it wrote stays. Its local server stops first; its lock goes with the old image."""
    log.warning("restarting the worker now: %s", reason)
    if server is not None:
        server.stop()
    _reexec(idle_s)


def start_watchdog(settings: Settings, server: Any, idle_s: float) -> Watchdog:
    """The stuck-job watchdog of this worker, started (``flows.watchdog.Watchdog``); it restarts
    the worker only where the worker is the process's program."""
    from flows.watchdog import Watchdog

    restart = (lambda reason: restart_now(server, idle_s, reason)) if _MAIN_PROCESS else None
    return Watchdog(settings, restart).start()


def resident_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def recycle_reason(settings: Settings, ran: int) -> str | None:
    """Why the worker should restart itself now (between two runs), or None."""
    if settings.worker_max_jobs and ran >= settings.worker_max_jobs:
        return f"{ran} flow runs done (INLET_WORKER_MAX_JOBS={settings.worker_max_jobs})"
    rss = resident_mb()
    if settings.worker_max_memory_mb and rss > settings.worker_max_memory_mb:
        return f"{rss:.0f} MB resident (INLET_WORKER_MAX_MEMORY_MB={settings.worker_max_memory_mb})"
    return None


def _point_prefect_at(url: str | None) -> None:
    """Make this process's Prefect client use the local server at ``url`` (None: forget it)."""
    if url is None:
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.pop("INLET_MODE", None)
    else:
        os.environ["PREFECT_API_URL"] = url
        os.environ["INLET_MODE"] = "embedded"  # that address is this worker's own server
    if "prefect.context" in sys.modules:  # Prefect read its settings when it was imported
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


def _serve(settings: Settings, idle_s: float | None, server: Any) -> tuple[int, bool]:
    """The worker's loop; how many runs it executed, and whether runs still wait."""
    from prefect.context import SyncClientContext

    from flows.deployments import ensure_deployments
    from flows.server import ensure_work_pool

    idle_s = settings.worker_idle_s if idle_s is None else idle_s
    pool = settings.work_pool
    ensure_work_pool(pool)
    created = ensure_deployments(pool)
    if created:
        log.info("created the deployments %s", ", ".join(created))
    flows = _flows()
    watchdog = start_watchdog(settings, server, idle_s)
    beating = threading.Event()
    heartbeat(pool, worker_id(settings), beating)
    from flows.tasks import count_slots_in_process

    # this process runs one flow run at a time: it counts the transcription and embedding slots
    # of its runs itself, so that the limits hold per worker, not across a team's workers
    count_slots_in_process(settings)
    serve_as_worker()  # the runs it executes keep this machine's home, models and limits
    ran = 0
    recycle = False
    log.info("worker %s (%s) serves the pool %s", settings.worker_name, worker_id(settings), pool)
    # one Prefect client for the loop and every flow run it executes: the flow engine takes the
    # context's client instead of making its own (50 ms of CPU a run here, most of it TLS set-up)
    with SyncClientContext.get_or_create() as context, _lean_flow_runs(local=server is not None):
        client = context.client
        if server is not None:
            for run_id in recover(client, pool):
                log.warning("flow run %s was left by a worker that died; it runs again", run_id)
            server.publish()
        else:
            beating.wait(heartbeat_s())
            widen_pool(client, pool, settings)
        idle_since = time.monotonic()
        stamp, stamped, looked = code_stamp(), time.monotonic(), 0.0
        woken, asked = wake_mark(settings), 0.0
        while True:
            if server is None and time.monotonic() - looked > ORPHANS_EVERY_S:
                with contextlib.suppress(Exception):  # an API hiccup: look again next time
                    requeue_orphans(client, pool)
                    # also when a worker came online after this one's start, or this one's first
                    # heartbeat reached the server late (a loaded machine): then no worker's start
                    # had counted them all
                    widen_pool(client, pool, settings)
                looked = time.monotonic()
            if time.monotonic() - stamped > STAMP_EVERY_S:
                if code_stamp() != stamp:
                    log.info("inlet's code changed since this worker started; stepping down")
                    break
                stamped = time.monotonic()
            run = None
            mark = wake_mark(settings) if server is not None else woken
            # a local worker asks its server when woken, or every LOCAL_ASK_S; one of a team's always
            if server is None or mark != woken or time.monotonic() - asked >= LOCAL_ASK_S:
                woken, asked = mark, time.monotonic()  # read before asking: a later wake is seen
                runs = scheduled_runs(client, pool)
                run = next((r for r in runs if claim(client, r)), None)
            if run is None:
                if time.monotonic() - max(idle_since, last_answered()) > idle_s:  # searches count
                    break
                WOKEN_HERE.wait(POLL_S)  # a job submitted through this process's socket: at once
                WOKEN_HERE.clear()
                continue
            log.info("flow run %s (%s, queue %s)", run.id, run.name, run.work_queue_name)
            try:
                with watchdog.watching(run):
                    final = execute(client, run, flows)
            except Exception:  # noqa: BLE001 - the flow recorded its failure; keep serving
                log.exception("flow run %s raised", run.id)
                final = "Crashed"
            log.info("flow run %s ended %s", run.id, final)
            ran += 1
            idle_since = time.monotonic()
            asked = 0.0  # runs submitted meanwhile are due now: ask at once, not at the next LOCAL_ASK_S
            reason = recycle_reason(settings, ran)
            if reason:
                log.info("recycling: %s; a fresh worker process takes over", reason)
                recycle = True
                break
        waiting = recycle
        if server is not None:
            server.unpublish()  # new submitters start the next worker from here on
            waiting = recycle or bool(scheduled_runs(client, pool))
    return ran, waiting


@contextlib.contextmanager
def _lean_flow_runs(*, local: bool) -> Iterator[None]:
    """A local worker's flow runs skip two things of Prefect's flow engine that cost each job
    about half a second here and that nothing reads on the worker's own server:

    - heartbeat events: the engine's heartbeat thread sleeps in whole seconds, and each run's
      end waits for it (0.5 s on average before the next job can start); a dead worker's runs
      are found by the worker lock instead (:func:`recover`);
    - the watch for a suspend request (``suspend_flow_run``): the engine starts a thread with an
      asynchronous client and an events subscription for every deployment run and waits for it
      before the flow starts (0.2 s here); inlet never suspends a run, and a cancel reaches the
      run without it.

    A team's workers keep both: the server's automations may watch the heartbeats."""
    if not local:
        yield
        return
    import prefect.flow_engine as engine
    from prefect.settings import temporary_settings

    watch = getattr(engine, "observe_flow_run_suspension", None)
    if watch is not None:  # a Prefect without it runs as it is
        engine.observe_flow_run_suspension = _no_watch
    try:
        with temporary_settings(updates={"flows.heartbeat_frequency": None}):
            yield
    finally:
        if watch is not None:
            engine.observe_flow_run_suspension = watch


@contextlib.contextmanager
def _no_watch(*args: Any, **kwargs: Any) -> Iterator[None]:
    yield


def heartbeat(pool: str, name: str, first: threading.Event) -> threading.Thread:
    """Tell the server every ``Settings.worker_heartbeat_s`` that this worker lives, from a thread of its own, so
    that it goes on while the worker runs a long flow; ``first`` is set after the first one."""

    def beat() -> None:
        from prefect.client.orchestration import get_client

        every = heartbeat_s()
        with get_client(sync_client=True) as client:
            while True:
                with contextlib.suppress(Exception):  # a missed beat is sent again in a moment
                    client.send_worker_heartbeat(pool, name, heartbeat_interval_seconds=every)
                    first.set()
                time.sleep(every)

    thread = threading.Thread(target=beat, name="inlet-worker-heartbeat", daemon=True)
    thread.start()
    return thread


RUNS_PER_WORKER = 2
"""Runs of the pool one worker holds at once: the one it executes and, when that is the run of a
split job, the part it runs inside it (``flows.parts``). The pool counts both against its limit."""


def widen_pool(client: SyncPrefectClient, pool: str, settings: Settings) -> int | None:
    """Raise the pool's flow-run limit to ``RUNS_PER_WORKER`` times the number of workers online,
    so that each can run a job at once (each runs one at a time, a split job's run with a part
    inside it); never lower it. The new limit, or None."""
    from prefect.client.schemas.actions import WorkPoolUpdate

    want = max(settings.pool_concurrency, RUNS_PER_WORKER * len(live_workers(client, pool)))
    limit = client.read_work_pool(pool).concurrency_limit
    if limit is None or limit >= want:
        return None
    client.update_work_pool(pool, WorkPoolUpdate(concurrency_limit=want))
    log.info(
        "the pool %s now runs up to %d flow runs at once (%d per worker online)", pool, want, RUNS_PER_WORKER
    )
    return want


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle-s", type=float, help="stop after this many idle seconds")
    parser.add_argument("--name", help="this worker's name (default: the worker_name setting, the host name)")
    args = parser.parse_args(argv)
    if args.name:  # in the environment: the flows this worker runs, and a re-executed worker, see it
        os.environ["INLET_WORKER_NAME"] = args.name
    settings = get_settings()
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s worker[{os.getpid()}] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # A terminated worker exits like an idle one: its lock is released and its local server
    # stopped. A run it was executing is put back by the next worker and finishes then.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    global _MAIN_PROCESS
    _MAIN_PROCESS = True
    ran = serve(settings, args.idle_s)
    log.info("stopping after %d flow runs", ran)
    return 0


if __name__ == "__main__":
    sys.exit(main())
