"""Where a home's jobs run, right now: the mode, the Prefect API and UI, the local worker, and how
many jobs wait on each priority queue and run. ``inlet status`` and ``inlet.status()`` show it;
the local worker answers it on its socket (``flows.query_socket``) so the command need not load
the analytics reader itself."""

from __future__ import annotations

from typing import Any

from flows.local_server import answers
from pipelines.config import Settings
from pipelines.queue import PRIORITIES


def status(settings: Settings) -> dict[str, Any]:
    """``{"mode", "prefect_api_url", "prefect_ui_url", "server_up", "worker_pid", "work_pool",
    "queues", "running"}``, found without starting anything (see ``inlet.status``)."""
    from flows.worker_lock import worker_pid
    from pipelines import analytics

    url = settings.prefect_api_url
    counts = analytics.query(
        settings, "SELECT priority, status, count(*) AS n FROM job_state WHERE status IN ('queued', 'running') "
        "GROUP BY priority, status",
    )  # fmt: skip
    queues = dict.fromkeys(PRIORITIES, 0)
    running = 0
    for row in counts.iter_rows(named=True):
        if row["status"] == "running":
            running += row["n"]
        elif row["priority"] in queues:
            queues[row["priority"]] += row["n"]
    return {
        "mode": settings.active_mode,
        "prefect_api_url": url,
        "prefect_ui_url": url[: -len("/api")] if url and url.endswith("/api") else url,
        "server_up": answers(url, timeout_s=1.0) if url else False,
        "worker_pid": worker_pid(settings) if settings.active_mode == "embedded" else None,
        "work_pool": settings.work_pool,
        "queues": queues,
        "running": running,
    }
