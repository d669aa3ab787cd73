"""Following a job to its end: its progress as it moves, then its summary.

:func:`follow` is the one loop that watches a job, in whichever process runs it: ``inlet.wait``
runs it in the caller's process, and the local worker runs it for a caller that asks over its
socket (``flows.query_socket.follow_in_worker``), which then imports neither DuckDB nor polars
(half a second of a terminal command's start on a slow machine) and opens no store of its own.

Each event is JSON-ready:

- ``{"progress": {"percent": 42.0, "status": "running", "eta_s": 3.0}}`` when the job's
  progress was read (first after a second, then at most once a second, less often when
  reading it gets costly);
- ``{"alive": true}`` every :data:`HEARTBEAT_S` when no progress is asked for, so a reader on
  a socket can tell a long job from a dead worker;
- ``{"result": {...}}`` last: the job's summary (``flows.submit.result``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from pipelines.config import Settings

RESULT_POLL_S = 0.05
"""How often the job's end is looked for: whether the jobs table got a file since the last
look (a folder listing), and only then a query of the job's rows."""
RESULT_QUERY_AT_LEAST_S = 5.0
"""The job's rows are queried at least this often, whatever the listing says."""
RESULT_QUERY_HERE_S = 30.0
"""... and this often when the job runs in the following process, whose end it learns from
memory (``flows.job.jobs_here``): only a run that died without recording its end needs the
table read."""
HEARTBEAT_S = 5.0
"""With no progress asked for, an ``alive`` event comes at least this often."""


def follow(
    settings: Settings,
    job_id: str,
    *,
    progress: bool = True,
    deadline: float | None = None,
    revive: bool = True,
) -> Iterator[dict[str, Any]]:
    """The events of job ``job_id`` until its end (see the module's docstring).

    ``deadline``: a ``time.monotonic()`` value past which :class:`TimeoutError` is raised (the
    job goes on). ``revive``: start a local worker when the one that ran the job died (the
    worker itself, following for a caller, passes False).
    """
    from flows.job import jobs_here
    from flows.submit import result as job_result
    from flows.submit import revive as revive_worker
    from pipelines import analytics

    checked = time.monotonic()
    # the first progress after a second: a short job ends before it, and the query would take
    # CPU from it
    shown_at, show_every = time.monotonic(), 1.0
    mark: object = False
    asked = 0.0
    alive_at = time.monotonic()
    while True:
        # a query of the jobs table costs tens of milliseconds of CPU, taken from the job on a
        # small machine: ask only once the table got a new file (or a while has passed)
        if (ended := jobs_here.ended(job_id)) is not None:  # it ran in this process
            yield {"result": ended}
            return
        # a job this process runs ends here (above): its table is only read now and then, in
        # case its run died without recording its end
        here = jobs_here.running(job_id)
        seen = mark if here else analytics.change_mark(settings, "jobs")
        every = RESULT_QUERY_HERE_S if here else RESULT_QUERY_AT_LEAST_S
        if seen is None or seen != mark or time.monotonic() - asked >= every:
            mark, asked = seen, time.monotonic()
            if (result := job_result(settings, job_id)) is not None:
                yield {"result": result}
                return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} is still running")
        if progress and time.monotonic() - shown_at >= show_every:
            # reading the job's progress is a query over its events: ask less often when it
            # gets costly (at most 2 % of a core), so that following a job never slows it down
            shown_at = time.monotonic()
            now = _progress(settings, job_id)
            show_every = max(1.0, 50 * (time.monotonic() - shown_at))
            if now is not None:
                alive_at = time.monotonic()
                yield {"progress": now}
        if time.monotonic() - alive_at >= HEARTBEAT_S:
            alive_at = time.monotonic()
            yield {"alive": True}
        if revive and time.monotonic() - checked > 5:  # a local worker that died is replaced
            revive_worker(job_id, settings)
            checked = time.monotonic()
        time.sleep(RESULT_POLL_S)


def _progress(settings: Settings, job_id: str) -> dict[str, Any] | None:
    """The job's stage-weighted progress (percent), status and estimated seconds left."""
    from pipelines import analytics

    rows = analytics.jobs(settings, job_id=job_id, limit=1)
    if not rows.height:
        return None
    row = rows.row(0, named=True)
    return {
        "percent": round(100 * (row["progress"] or 0.0), 1),
        "status": row["status"],
        "eta_s": row["eta_s"],
    }
