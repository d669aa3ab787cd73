"""Cancelling a flow run the Prefect way, as the UI's Cancel button does: ``inlet cancel``, the
cancel of a split job's parts and the HTTP API all go through :func:`cancel_flow_run`."""

from __future__ import annotations

from typing import Any
from uuid import UUID


def cancel_flow_run(flow_run_id: str) -> str:
    """Cancel a flow run the Prefect way: Cancelled before it starts, Cancelling once it runs
    (the flow stops at its next check); ``cancelled``, ``cancelling`` or ``finished``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled, Cancelling

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        kind = run.state.type if run.state is not None else StateType.SCHEDULED
        if kind in (StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED):
            answer: Any = client.set_flow_run_state(
                flow_run_id, Cancelled(message="cancelled before it started")
            )
            if answer.status.value == "ACCEPT":
                return "cancelled"
            run = client.read_flow_run(UUID(flow_run_id))  # it started meanwhile
            kind = run.state.type if run.state is not None else kind
        if kind == StateType.RUNNING:
            client.set_flow_run_state(flow_run_id, Cancelling(message="cancel asked by inlet"))
            return "cancelling"
        if kind == StateType.CANCELLING:
            return "cancelling"
        return "finished"
