"""A local worker runs its flows without Prefect's flow heartbeats and suspension watch (each
cost a job about a quarter to half a second, see ``flows.worker._lean_flow_runs``); a team's
worker keeps both, and the engine is left as it was once the worker stops."""

from __future__ import annotations

import threading

import prefect.flow_engine as engine
import pytest
from prefect import flow
from prefect.settings import get_current_settings

from flows.worker import _lean_flow_runs

pytestmark = pytest.mark.usefixtures("prefect_harness")


@flow(name="lean-probe")
def probe(n: int) -> dict[str, object]:
    return {
        "n": n * 2,
        "heartbeat": get_current_settings().flows.heartbeat_frequency,
        "threads": sorted(t.name for t in threading.enumerate()),
    }


def test_a_local_worker_s_runs_send_no_heartbeat_and_watch_no_suspension_and_a_team_s_do() -> None:
    # the hook exists in the Prefect installed: should an upgrade drop it, this says so
    watch = engine.observe_flow_run_suspension
    default = get_current_settings().flows.heartbeat_frequency
    assert default is not None

    with _lean_flow_runs(local=True):
        assert engine.observe_flow_run_suspension is not watch
        ran = probe(21)
    assert ran["n"] == 42 and ran["heartbeat"] is None  # the flow ran, without heartbeats
    assert engine.observe_flow_run_suspension is watch  # restored when the worker stops
    assert get_current_settings().flows.heartbeat_frequency == default

    with _lean_flow_runs(local=False):
        assert engine.observe_flow_run_suspension is watch
        kept = probe(1)
    assert kept["n"] == 2 and kept["heartbeat"] == default
