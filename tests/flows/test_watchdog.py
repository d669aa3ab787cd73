"""The stuck-job watchdog's decisions, on real flow runs (the session's Prefect server) and a real
analytics store, with the job's rows written as a running job leaves them.

The worker's restart (a new process image) is stood in by a function that keeps its reason;
``test_stuck.py`` restarts a real worker around a job that really hangs.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Running

from flows.watchdog import Watchdog
from pipelines import analytics
from pipelines.config import Settings, get_settings
from pipelines.deadline import check

pytestmark = pytest.mark.usefixtures("prefect_harness")

QUIET_S = 2.0


@flow(name="stuck-probe")
def probe(job_id: str = "", settings: dict[str, Any] | None = None) -> None:
    """Stands for the ingest flow: the watchdog reads a run's parameters, never runs its flow."""


def running_job(settings: Settings, job_id: str, paths: list[str], events: list[dict[str, Any]]) -> Any:
    """A Running flow run and the analytics rows of its job, its last row 30 s old."""
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(
            probe,
            parameters={"job_id": job_id, "settings": settings.model_dump(mode="json")},
            state=Running(),
        )
    then = analytics.now() - dt.timedelta(seconds=30)
    analytics.record(settings, "jobs", [{
        "job_id": job_id, "collection": "c", "priority": "normal", "status": "running", "flow_run_id": str(run.id),
        "submitted_at": then, "started_at": then, "paths": json.dumps(paths), "at": then,
    }])  # fmt: skip
    base = {"job_id": job_id, "collection": "c", "kind": "text", "at": then}
    analytics.record(settings, "events", [{**base, **e} for e in events])
    return run


def state_of(run: Any) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run.id).state


def job(settings: Settings, job_id: str) -> dict[str, Any]:
    return analytics.jobs(settings, job_id=job_id).row(0, named=True)


def test_a_quiet_job_is_alive_while_its_stage_checks_then_is_requeued_once_then_fails_as_stuck() -> None:
    settings = get_settings(stuck_job_after_s=QUIET_S, stuck_requeues=1)
    run = running_job(settings, "quiet1", ["/in"], [
        {"source_id": "a", "file": "done.txt", "path": "/in/done.txt", "stage": "index", "event": "end", "chunks": 2},
        {"source_id": "b", "file": "hung.txt", "path": "/in/hung.txt", "stage": "extract", "event": "start"},
    ])  # fmt: skip
    restarts: list[str] = []
    dog = Watchdog(settings, restarts.append)
    with dog.watching(run):
        time.sleep(QUIET_S + 0.2)
        check()  # a long loop of the engine checks its time limit: the job is alive
        assert dog.check() == "ok" and not restarts
        alive = job(settings, "quiet1")
        assert alive["last_event_at"] > analytics.now() - dt.timedelta(seconds=10)  # a sign of life
        assert (alive["status"], alive["requeues"]) == ("running", 0)

        time.sleep(QUIET_S + 0.2)  # nothing checks any more: stuck
        assert dog.check() == "requeue"
        assert (
            len(restarts) == 1
            and "is stuck: no event for" in restarts[0]
            and "requeued (1 of 1)" in restarts[0]
        )
        requeued = job(settings, "quiet1")
        assert (requeued["status"], requeued["requeues"]) == ("queued", 1)
        assert state_of(run).is_scheduled()

        # The run again, from the start of its flow; it hangs again.
        analytics.record(settings, "jobs", [{"job_id": "quiet1", "status": "running"}])
        time.sleep(QUIET_S + 0.2)
        assert dog.check() == "fail"
    assert len(restarts) == 2 and "is stuck again" in restarts[1]
    ended = job(settings, "quiet1")
    assert (ended["status"], ended["requeues"], ended["failed"], ended["stuck"]) == (
        "partially_failed",
        1,
        1,
        False,
    )
    errors = analytics.errors(settings, "quiet1")
    assert errors.select("class", "file", "stage", "retryable").rows() == [
        ("stuck", "hung.txt", "extract", False)
    ]
    assert "also after being requeued once" in errors["message"][0]
    summary = json.loads(analytics.query(settings, "SELECT summary FROM job_state")["summary"][0])
    by_file = {s["file"]: s for s in summary["sources"]}
    assert (by_file["done.txt"]["status"], by_file["done.txt"]["chunks"]) == ("ingested", 2)
    assert (by_file["hung.txt"]["status"], by_file["hung.txt"]["error"]["class"]) == ("failed", "stuck")
    assert state_of(run).is_failed()


def test_a_job_stuck_before_its_files_were_checked_fails_each_path_it_was_given() -> None:
    settings = get_settings(stuck_job_after_s=QUIET_S, stuck_requeues=0)
    run = running_job(settings, "early1", ["/in/a.txt", "/in/b.pdf"], [])
    restarts: list[str] = []
    dog = Watchdog(settings, restarts.append)
    with dog.watching(run):
        time.sleep(QUIET_S + 0.2)
        assert dog.check() == "fail"
    assert job(settings, "early1")["status"] == "failed" and len(restarts) == 1
    errors = analytics.errors(settings, "early1").sort("file")
    assert errors.select("class", "file", "path", "stage").rows() == [
        ("stuck", "a.txt", "/in/a.txt", "validate"), ("stuck", "b.pdf", "/in/b.pdf", "validate")]  # fmt: skip
    assert state_of(run).is_failed()


def test_no_run_or_a_run_without_a_job_of_its_own_is_left_alone() -> None:
    settings = get_settings(stuck_job_after_s=QUIET_S)
    restarts: list[str] = []
    dog = Watchdog(settings, restarts.append)
    assert dog.check() is None  # idle
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(probe, parameters={}, state=Running())
    with dog.watching(run):
        time.sleep(QUIET_S + 0.2)
        assert dog.check() is None
    assert not restarts and state_of(run).is_running()


def test_a_hung_job_that_was_asked_to_cancel_ends_cancelled_not_requeued() -> None:
    from prefect.states import Cancelling

    settings = get_settings(stuck_job_after_s=QUIET_S, stuck_requeues=1)
    run = running_job(settings, "cancel1", ["/in"], [
        {"source_id": "a", "file": "done.txt", "path": "/in/done.txt", "stage": "index", "event": "end", "chunks": 1},
        {"source_id": "b", "file": "hung.txt", "path": "/in/hung.txt", "stage": "embed", "event": "end"},
    ])  # fmt: skip
    with get_client(sync_client=True) as client:  # what `inlet cancel` and the UI's button do
        client.set_flow_run_state(run.id, Cancelling(message="cancelled by its user"))
    restarts: list[str] = []
    dog = Watchdog(settings, restarts.append)
    with dog.watching(run):
        time.sleep(QUIET_S + 0.2)
        assert dog.check() == "cancelled"
    assert len(restarts) == 1 and "was cancelled" in restarts[0]
    ended = job(settings, "cancel1")
    assert (ended["status"], ended["requeues"]) == ("cancelled", 0)
    files = analytics.job_sources(settings, "cancel1")
    assert dict(zip(files["file"], files["status"], strict=True)) == {
        "done.txt": "ingested",
        "hung.txt": "cancelled",
    }
    assert analytics.errors(settings, "cancel1").height == 0
    assert state_of(run).is_cancelled()
