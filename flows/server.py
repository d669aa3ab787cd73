"""The ``inlet`` work pool, its priority queues, concurrency limits and deployments.

Both modes use them: the local worker of embedded mode sets them up on its own local server
when it starts (:func:`ensure_work_pool`, :func:`ensure_deployments`), and ``prefect.yaml`` runs :func:`ensure_work_pool` as a build step, so ``prefect deploy --all`` on a
fresh server leaves everything a worker needs: a process pool named ``inlet`` with a flow-run
concurrency limit (queue priorities only order runs when something limits them) and the queues
``high``, ``normal``, ``low`` in that order of precedence, plus inlet's global concurrency limits.
Running it again changes nothing that is already right.

    prefect server start
    prefect --no-prompt deploy --all          # runs ensure_work_pool, then registers deployments
    prefect worker start --pool inlet
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.config import get_settings
from pipelines.queue import PRIORITIES

PREFECT_YAML = Path(__file__).resolve().parents[1] / "prefect.yaml"


def ensure_work_pool(
    name: str | None = None, concurrency_limit: int | None = None, **_: Any
) -> dict[str, Any]:
    """Create or update the process work pool, its priority queues and the global limits."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    from flows.tasks import limits

    settings = get_settings()
    name = name or settings.work_pool
    limit = concurrency_limit or settings.pool_concurrency
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
            if pool.concurrency_limit != limit:
                client.update_work_pool(name, WorkPoolUpdate(concurrency_limit=limit))
        except ObjectNotFound:
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
                client.create_work_queue(queue_name, work_pool_name=name, priority=priority)
        try:  # every pool has a "default" queue; inlet never uses it: put it last
            default = client.read_work_queue_by_name("default", work_pool_name=name)
            if default.priority <= len(PRIORITIES):
                client.update_work_queue(default.id, priority=len(PRIORITIES) + 1)
        except ObjectNotFound:
            pass
        for limit_name, size in limits(settings).items():
            client.upsert_global_concurrency_limit_by_name(limit_name, size)
        queues = {q.name: q.priority for q in client.read_work_queues(work_pool_name=name)}
    return {"work_pool": name, "concurrency_limit": limit, "queues": queues}


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The deployments of ``prefect.yaml`` (the one place they are defined), with their flow
    name (``ingest``, ``ingest-inbox``, ...) resolved from the entry point."""
    import yaml

    from flows import deployments

    specs = []
    for spec in yaml.safe_load(path.read_text())["deployments"]:
        function = spec["entrypoint"].rsplit(":", 1)[1]
        specs.append({**spec, "flow": getattr(deployments, function)})
    return specs


def ensure_deployments(pool: str | None = None) -> list[str]:
    """Create the deployments of ``prefect.yaml`` that the server lacks (on the pool ``pool``,
    each on its own queue, with its schedules); the names created. Existing deployments are
    left as they are: ``prefect deploy`` or the UI may have changed them on purpose."""
    from datetime import timedelta

    from prefect.client.orchestration import get_client
    from prefect.deployments.runner import EntrypointType
    from prefect.exceptions import ObjectNotFound
    from prefect.schedules import Cron, Interval, Schedule

    pool = pool or get_settings().work_pool
    created = []
    with get_client(sync_client=True) as client:
        for spec in deployment_specs():
            flow = spec["flow"]
            try:
                client.read_deployment_by_name(f"{flow.name}/{spec['name']}")
                continue
            except ObjectNotFound:
                pass
            schedules: list[Schedule] = []
            for entry in spec.get("schedules") or []:
                options = {"active": entry.get("active", True), "slug": entry.get("slug")}
                if "cron" in entry:
                    schedules.append(Cron(entry["cron"], timezone=entry.get("timezone"), **options))
                else:
                    schedules.append(Interval(timedelta(seconds=entry["interval"]), **options))
            deployment = flow.to_deployment(
                spec["name"],
                description=spec.get("description"),
                tags=spec.get("tags"),
                parameters=spec.get("parameters") or {},
                schedules=schedules or None,
                work_pool_name=pool,
                work_queue_name=spec["work_pool"].get("work_queue_name", "normal"),
                entrypoint_type=EntrypointType.MODULE_PATH,
                # The flow validates its parameters when it runs, with the settings of the code
                # it runs; a schema kept by the server would refuse settings added since.
                enforce_parameter_schema=False,
                _sync=True,
            )
            deployment.apply(work_pool_name=pool, _sync=True)
            created.append(spec["name"])
    return created
