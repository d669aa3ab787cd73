"""The entry points of the deployments in ``prefect.yaml``.

``prefect deploy`` refuses a deployment whose work pool does not exist, and it imports the entry
point before it runs any build step. So when this module is imported by ``prefect deploy``, it
first creates (or updates) the ``inlet`` work pool, its priority queues and inlet's concurrency
limits (:func:`flows.server.ensure_work_pool`, idempotent). Imported anywhere else, for example
by a worker starting a flow run, it only hands out the flows.
"""

from __future__ import annotations

import sys

from flows.inbox import inbox_flow
from flows.ingest import ingest_flow
from flows.maintenance import maintenance_flow
from flows.retry import retry_failed_flow

__all__ = ["inbox_flow", "ingest_flow", "maintenance_flow", "retry_failed_flow"]


def _run_by_prefect_deploy() -> bool:
    args = sys.argv[1:]
    return bool(sys.argv) and sys.argv[0].endswith("prefect") and "deploy" in args


if _run_by_prefect_deploy():
    from flows.server import ensure_work_pool

    ensure_work_pool()
