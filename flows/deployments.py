"""The entry points of the deployments in ``prefect.yaml``.

``prefect deploy`` refuses a deployment whose work pool does not exist, and it imports the entry
point before it runs any build step. So when this module is imported by ``prefect deploy``, it
first creates (or updates) the ``inlet`` work pool, its priority queues and inlet's concurrency
limits (:func:`flows.server.ensure_work_pool`, idempotent). Imported anywhere else, for example
by a worker starting a flow run, it only hands out the flows, and reads ``prefect.yaml`` for the
worker (:func:`deployment_specs`, :func:`ensure_deployments`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flows.inbox import inbox_flow
from flows.ingest import ingest_flow
from flows.maintenance import maintenance_flow
from flows.retry import retry_failed_flow
from pipelines.config import get_settings

__all__ = ["inbox_flow", "ingest_flow", "maintenance_flow", "retry_failed_flow"]

PREFECT_YAML = Path(__file__).resolve().parents[1] / "prefect.yaml"


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The deployments of ``prefect.yaml`` (the one place they are defined), with their flow
    name (``ingest``, ``ingest-inbox``, ...) resolved from the entry point."""
    import yaml

    specs = []
    for spec in yaml.safe_load(path.read_text())["deployments"]:
        function = spec["entrypoint"].rsplit(":", 1)[1]
        specs.append({**spec, "flow": globals()[function]})
    return specs


def ensure_deployments(pool: str | None = None) -> list[str]:
    """Create the deployments of ``prefect.yaml`` that the server lacks (on the pool ``pool``,
    each on its own queue, with its schedules); the names created. Existing deployments are
    left as they are (``prefect deploy`` or the UI may have changed them on purpose), except
    that the server stops checking their parameters against a kept schema: the flow checks
    them when it runs, and a kept schema refuses the settings a newer inlet has."""
    from datetime import timedelta

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.deployments.runner import EntrypointType
    from prefect.exceptions import ObjectNotFound
    from prefect.schedules import Cron, Interval, Schedule

    pool = pool or get_settings().work_pool
    created = []
    with get_client(sync_client=True) as client:
        for spec in deployment_specs():
            flow = spec["flow"]
            try:
                existing = client.read_deployment_by_name(f"{flow.name}/{spec['name']}")
            except ObjectNotFound:
                existing = None
            if existing is not None:
                if existing.enforce_parameter_schema:  # made by an older inlet or `prefect deploy`
                    client.update_deployment(existing.id, DeploymentUpdate(enforce_parameter_schema=False))
                continue
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


def _run_by_prefect_deploy() -> bool:
    args = sys.argv[1:]
    return bool(sys.argv) and sys.argv[0].endswith("prefect") and "deploy" in args


if _run_by_prefect_deploy():
    from flows.server import ensure_work_pool

    ensure_work_pool()
