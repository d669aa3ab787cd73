"""The local worker of embedded mode: one process per home that runs queued jobs by priority.

Started on demand by whoever submits a job (CLI, notebook, dashboard) and stopping after
``worker_idle_s`` without work, it keeps Prefect's ephemeral server and the models warm between
jobs (DESIGN decision 7). A file lock makes it the only worker of its home; on start it puts
back in the queue the jobs of a worker that died, so they run again and finish.

    INLET_HOME=DIR python -m flows.worker [--idle-s SECONDS]     (or: inlet worker)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from pipelines.config import Settings, get_settings
from pipelines.errors import classify
from pipelines.queue import JobQueue, JobRequest, WorkerLock

log = logging.getLogger("inlet.worker")

POLL_S = 0.1
"""How often an idle worker looks for a job: a glob of one folder, cheap enough to do often,
and a job waits half of it on average before it starts."""
STAMP_EVERY_S = 2.0
CODE = Path(__file__).resolve().parents[1]


def code_stamp() -> float:
    """The newest modification time of inlet's code: a worker whose code changed steps down."""
    return max(
        (p.stat().st_mtime for package in ("pipelines", "flows") for p in (CODE / package).rglob("*.py")),
        default=0.0,
    )


def run_job(request: JobRequest, settings: Settings) -> dict:
    """Run one claimed job with the settings it was submitted with; its summary."""
    from flows.ingest import ingest_flow

    job_settings = (
        Settings(**{**request.settings, "home": str(settings.home)}) if request.settings else settings
    )
    try:
        return ingest_flow(
            request.paths,
            collection=request.collection,
            settings=job_settings,
            job_id=request.job_id,
            priority=request.priority,
        )
    except Exception as exc:  # noqa: BLE001 - the flow recorded its failure; keep serving
        error = classify(exc, stage="flow")
        log.error("job %s failed: %s", request.job_id, error)
        summary = {"job_id": request.job_id, "collection": request.collection, "status": "failed",
                   "chunks_written": 0, "sources": [], "error": error.to_dict()}  # fmt: skip
        JobQueue(settings).finish(request.job_id, summary)
        return summary


def serve(settings: Settings, idle_s: float | None = None) -> int:
    """Run queued jobs until the queue stays empty for ``idle_s``; how many jobs ran.

    Returns at once (0) when another worker already serves this home.
    """
    lock = WorkerLock(settings)
    if not lock.acquire():
        log.info("another worker serves %s", settings.home)
        return 0
    idle_s = settings.worker_idle_s if idle_s is None else idle_s
    queue = JobQueue(settings)
    ran = 0
    try:
        for job_id in queue.recover():
            log.warning("job %s was left running by a worker that died; it runs again", job_id)
        if settings.active_mode == "embedded":
            from flows.tasks import ensure_limits

            ensure_limits(settings, release_all=True)  # slots a killed run may have kept
        idle_since = time.monotonic()
        stamp, stamped = code_stamp(), time.monotonic()
        while True:
            if time.monotonic() - stamped > STAMP_EVERY_S:
                if code_stamp() != stamp:
                    log.info("inlet's code changed since this worker started; stepping down")
                    return ran
                stamped = time.monotonic()
            request = queue.claim()
            if request is None:
                if time.monotonic() - idle_since > idle_s:
                    return ran
                time.sleep(POLL_S)
                continue
            log.info("job %s (%s priority): %d paths", request.job_id, request.priority, len(request.paths))
            summary = run_job(request, settings)
            log.info("job %s %s", request.job_id, summary.get("status"))
            ran += 1
            idle_since = time.monotonic()
    finally:
        lock.release()
        if queue.pending():  # submitted while this worker was stepping down: hand over
            from flows.submit import ensure_worker

            ensure_worker(settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle-s", type=float, help="stop after this many idle seconds")
    args = parser.parse_args(argv)
    settings = get_settings()
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s worker[{os.getpid()}] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # A terminated worker exits like an idle one: its lock is released and Prefect stops the
    # ephemeral server it started (the default SIGTERM would leave that server running). A job
    # it was running stays in the queue and is resumed by the next worker.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ran = serve(settings, args.idle_s)
    log.info("stopping after %d jobs", ran)
    return 0


if __name__ == "__main__":
    sys.exit(main())
