"""The ``inlet`` work pool, its priority queues, concurrency limits and deployments.

Both modes use them: the local worker of embedded mode sets them up on its own local server
when it starts (:func:`ensure_work_pool`, then ``flows.deployments.ensure_deployments``), and ``prefect.yaml`` runs :func:`ensure_work_pool` as a build step, so ``prefect deploy --all`` on a
fresh server leaves everything a worker needs: a process pool named ``inlet`` with a flow-run
concurrency limit (queue priorities only order runs when something limits them) and the queues
``high``, ``normal``, ``low`` in that order of precedence, plus inlet's global concurrency limits.
Running it again changes nothing that is already right.

    prefect server start
    prefect --no-prompt deploy --all          # runs ensure_work_pool, then registers deployments
    prefect worker start --pool inlet
"""

from __future__ import annotations

import contextlib
from typing import Any

from pipelines.config import get_settings
from pipelines.queue import PRIORITIES


def ensure_work_pool(
    name: str | None = None, concurrency_limit: int | None = None, **_: Any
) -> dict[str, Any]:
    """Create or update the process work pool, its priority queues and the global limits."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    from flows.tasks import limits

    settings = get_settings()
    name = name or settings.work_pool
    limit = concurrency_limit or settings.pool_concurrency
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
            # a team's server: each worker raised the limit for the workers online; keep that
            lower = settings.active_mode == "embedded"
            if pool.concurrency_limit != limit and (lower or (pool.concurrency_limit or 0) < limit):
                client.update_work_pool(name, WorkPoolUpdate(concurrency_limit=limit))
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # workers starting together
                client.create_work_pool(
                    WorkPoolCreate(
                        name=name,
                        type="process",
                        base_job_template=ProcessWorker.get_default_base_job_template(),
                        concurrency_limit=limit,
                        description="inlet: ingest jobs, high before normal before low",
                    )
                )
        for queue_name, rank in PRIORITIES.items():
            priority = rank + 1  # Prefect: 1 is the highest
            try:
                queue = client.read_work_queue_by_name(queue_name, work_pool_name=name)
                if queue.priority != priority:
                    client.update_work_queue(queue.id, priority=priority)
            except ObjectNotFound:
                with contextlib.suppress(ObjectAlreadyExists):
                    client.create_work_queue(queue_name, work_pool_name=name, priority=priority)
        try:  # every pool has a "default" queue; inlet never uses it: put it last
            default = client.read_work_queue_by_name("default", work_pool_name=name)
            if default.priority <= len(PRIORITIES):
                client.update_work_queue(default.id, priority=len(PRIORITIES) + 1)
        except ObjectNotFound:
            pass
        for limit_name, size in limits(settings).items():
            try:
                client.upsert_global_concurrency_limit_by_name(limit_name, size)
            except ObjectAlreadyExists:  # created by another process between Prefect's read and create
                client.upsert_global_concurrency_limit_by_name(limit_name, size)
        queues = {q.name: q.priority for q in client.read_work_queues(work_pool_name=name)}
    return {"work_pool": name, "concurrency_limit": limit, "queues": queues}
