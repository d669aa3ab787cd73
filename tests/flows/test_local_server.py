"""Embedded mode for real: the local worker, its local Prefect server, and jobs as flow runs.

One home for the module; its local worker is started on demand by the first submit, as a user
gets it, and is stopped at the end. Each test asks what a user would: does the job run, in one
warm worker, as a flow run the Prefect API lists and the UI shows; do priorities, cancel
(``inlet cancel`` and Prefect's own Cancel), the schedules and a killed worker behave.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

import inlet
from flows.local_worker import stop_worker
from flows.submit import api, job_row
from flows.worker_lock import worker_pid
from pipelines import analytics
from pipelines.config import Settings, get_settings
from pipelines.store import Store

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLES = REPO / "samples" / "corpus"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("local-server")
    home = root / "home"
    # the local server's scheduler looks for due schedules every second (default 60 s)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS", "1")
        # the server logs the errors it answers with 503 (a client retries them after seconds)
        env.setenv("PREFECT_API_LOG_RETRYABLE_ERRORS", "true")
        yield home
        stop_worker(get_settings(home=str(home)))


@pytest.fixture
def settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("INLET_HOME", str(home))
    return get_settings(home=str(home))


def note(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def busy_corpus(folder: Path, shared: Path, n: int = 150) -> Path:
    """Enough SciFact abstracts that their job keeps the worker busy for a while."""
    folder.mkdir(parents=True)
    with (shared / "retrieval" / "scifact" / "corpus.jsonl").open() as lines:
        for _, line in zip(range(n), lines, strict=False):
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    return folder


def wait_for(check, timeout_s: float = 300, every_s: float = 0.1, what: str = "") -> float:  # noqa: ANN001
    """Poll ``check()`` until true; the seconds it took."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout_s, f"timed out waiting for {what}"
        time.sleep(every_s)
    return time.monotonic() - began


def status_of(settings: Settings, job_id: str) -> str | None:
    row = job_row(settings, job_id)
    return None if row is None else row["status"]


def flow_run(settings: Settings, job_id: str):  # noqa: ANN201
    from prefect.client.orchestration import get_client

    with api(settings), get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(job_row(settings, job_id)["flow_run_id"]))


def test_jobs_from_a_notebook_the_cli_and_the_dashboard_run_as_flow_runs_in_one_warm_worker(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    notebook = inlet.submit([note(tmp_path, "a.txt", "The lighthouse keeper counted seventeen ships.")],
                            "doors", settings=settings)  # fmt: skip
    cli = subprocess.run(
        [str(BIN / "inlet"), "ingest", str(note(tmp_path, "b.txt", "The harbour crane lifted a red boat.")),
         "-c", "doors", "--json"],
        env={**os.environ, "INLET_HOME": str(settings.home)}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-3000:]
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=180).run()
    at.switch_page("views/upload.py").run()
    at.file_uploader[0].set_value(
        [("c.txt", b"The night ferry left the island at eleven.", "text/plain")]
    ).run()
    at.button(key="upload_submit").click().run()
    assert not at.exception
    dashboard = at.query_params["job"]
    dashboard = dashboard[0] if isinstance(dashboard, list) else dashboard
    jobs = [notebook, json.loads(cli.stdout)["job_id"], dashboard]
    for job_id in jobs:
        assert inlet.wait(job_id, progress=False, timeout=600, settings=settings)["status"] == "completed"

    for job_id in jobs:  # each job is a flow run of the ingest deployment, listed by Prefect's API
        run = flow_run(settings, job_id)
        assert run.parameters["job_id"] == job_id and run.state.is_completed()
    log = (settings.home / "logs" / "worker.log").read_text()
    assert log.count("loaded all-MiniLM-L6-v2") == 1, log[-3000:]  # one warm worker, one model load
    assert not (settings.home / "queue").exists()
    hits = inlet.search("night ferry island", mode="text", settings=settings)  # the upload page's collection
    assert hits["file"].to_list()[:1] == ["c.txt"]

    shown = subprocess.run([str(BIN / "inlet"), "status", "--json"], capture_output=True, text=True,
                           env={**os.environ, "INLET_HOME": str(settings.home)}, timeout=120)  # fmt: skip
    now = json.loads(shown.stdout)
    assert now["mode"] == "embedded" and now["server_up"] and now["worker_pid"] == worker_pid(settings)
    request = urllib.request.Request(now["prefect_ui_url"] + "/", headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=10) as page:
        assert page.status == 200 and b"<html" in page.read().lower()
    with urllib.request.urlopen(now["prefect_ui_url"] + "/ui-settings", timeout=10) as answer:
        assert json.loads(answer.read())["api_url"] == now["prefect_api_url"]  # the UI calls this server
    link = inlet.jobs(job_id=notebook, settings=settings)["flow_run_url"][0]
    assert link == f"{now['prefect_ui_url']}/runs/flow-run/{job_row(settings, notebook)['flow_run_id']}"


def test_an_idle_worker_starts_a_submitted_job_at_once_though_it_rarely_asks_its_server(
    settings: Settings, tmp_path: Path
) -> None:
    # an idle local worker asks its server for runs every LOCAL_ASK_S only (each question costs
    # the server CPU); a submit wakes it, so a job does not wait for its next question
    from flows.worker import LOCAL_ASK_S

    inlet.wait(inlet.submit([note(tmp_path, "w.txt", "The tide came in.")], "doors", settings=settings),
               progress=False, timeout=600, settings=settings)  # fmt: skip
    waits = []
    for i in range(4):
        time.sleep(1.5)  # idle again, at another point of its LOCAL_ASK_S cycle
        job_id = inlet.submit([note(tmp_path, f"w{i}.txt", f"Boat {i} left the quay.")], "doors",
                              settings=settings)  # fmt: skip
        inlet.wait(job_id, progress=False, timeout=600, settings=settings)
        row = inlet.jobs(job_id=job_id, settings=settings).row(0, named=True)
        waits.append((row["started_at"] - row["submitted_at"]).total_seconds())
    assert LOCAL_ASK_S >= 5 and max(waits) < 3.0, waits


def test_begin_immediate_finds_its_hook_in_this_prefect() -> None:
    # in a child process: the hook changes the process's Prefect server code
    check = (
        "from flows._prefect_server import begin_immediate; raise SystemExit(0 if begin_immediate() else 1)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (
        f"Prefect's SQLite configuration changed: see flows/_prefect_server.py {done.stderr}"
    )


def test_high_before_normal_before_low_and_a_waiting_job_cancelled_never_runs(
    settings: Settings, tmp_path: Path, shared: Path
) -> None:
    busy = inlet.submit([busy_corpus(tmp_path / "busy", shared)], "order", settings=settings)
    wait_for(lambda: status_of(settings, busy) == "running", what="the busy job to start")
    notes = tmp_path / "notes"
    submitted = {}
    for priority, text in (("low", "Low: the river rose two metres."), ("normal", "Normal: the bridge reopened."),
                           ("high", "High: cracks in two piers."), ("low", "Never: this is cancelled.")):  # fmt: skip
        path = note(notes, f"{priority}-{len(submitted)}.txt", text)
        submitted[path.stem] = inlet.submit([path], "order", priority=priority, settings=settings)
    dropped = submitted.pop("low-3")
    assert inlet.cancel(dropped, settings=settings) == "cancelled"
    for job_id in [busy, *submitted.values()]:
        inlet.wait(job_id, progress=False, timeout=900, settings=settings)
    started = analytics.query(
        settings, "SELECT job_id FROM job_state WHERE collection = 'order' AND started_at IS NOT NULL "
        "ORDER BY started_at",
    )["job_id"].to_list()  # fmt: skip
    assert started == [busy, submitted["high-2"], submitted["normal-1"], submitted["low-0"]]
    assert status_of(settings, dropped) == "cancelled"
    assert flow_run(settings, dropped).state.is_cancelled()
    never = analytics.query(settings, "SELECT count(*) AS n FROM events WHERE job_id = ?", [dropped])
    assert never["n"][0] == 0


def test_prefects_cancel_stops_a_transcription_and_marks_the_job_cancelled(
    settings: Settings, tmp_path: Path, shared: Path
) -> None:
    import wave

    import numpy as np
    from faster_whisper import decode_audio
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    speech = decode_audio(str(shared / "audio" / "fw_jfk.flac"), sampling_rate=16000)
    recording = tmp_path / "long_talk.wav"
    with wave.open(str(recording), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(np.tile(speech, 30), -1, 1) * 32767).astype("<i2").tobytes())
    job_id = inlet.submit([recording], "talks", settings=settings)
    sql = "SELECT count(*) AS n FROM events WHERE job_id = ? AND stage = 'transcribe' AND event = 'start'"
    wait_for(lambda: analytics.query(settings, sql, [job_id])["n"][0] > 0, what="the transcription")
    time.sleep(1)
    run_id = job_row(settings, job_id)["flow_run_id"]
    with api(settings), get_client(sync_client=True) as client:  # what the UI's Cancel button does
        client.set_flow_run_state(run_id, Cancelling(message="cancelled in the Prefect UI"))
    took = wait_for(lambda: status_of(settings, job_id) == "cancelled", timeout_s=60, every_s=0.05,
                    what="the job to end cancelled")  # fmt: skip
    print(f"cancelled {took:.2f} s after Cancelling was set")
    assert took < 3.0
    summary = inlet.wait(job_id, progress=False, timeout=60, settings=settings)
    assert [s["status"] for s in summary["sources"]] == ["cancelled"]
    wait_for(lambda: flow_run(settings, job_id).state.is_cancelled(), timeout_s=30, what="Cancelled")
    assert Store(settings).count_chunks("talks") == 0


def test_the_maintenance_schedule_is_active_and_fires_when_due(settings: Settings) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.schedules import IntervalSchedule

    inlet.ingest([SAMPLES / "lincoln_second_inaugural.md"], "upkeep", progress=False, settings=settings)
    with api(settings), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("maintenance/maintenance")
        assert [(s.schedule.cron, s.active) for s in deployment.schedules] == [("30 3 * * *", True)]
        began = dt.datetime.now(dt.UTC)
        soon = IntervalSchedule(interval=dt.timedelta(seconds=5), anchor_date=began)
        added = client.create_deployment_schedules(deployment.id, [(soon, True)])
        try:

            def fired() -> bool:
                done = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                    flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))),
                )  # fmt: skip
                return any(r.start_time and r.start_time > began for r in done)

            wait_for(fired, timeout_s=240, every_s=1, what="a scheduled maintenance run")
        finally:
            for schedule in added:
                client.delete_deployment_schedule(deployment.id, schedule.id)


def test_a_killed_worker_s_job_resumes_with_the_next_worker_and_no_duplicate(
    settings: Settings, tmp_path: Path, shared: Path
) -> None:
    corpus = busy_corpus(tmp_path / "many", shared, n=48)
    # Small index batches, so that the job is far from done when its first batch is written.
    job_settings = settings.model_copy(update={"index_batch_chunks": 8, "small_file_batch": 4})
    job_id = inlet.submit([corpus], "resume", settings=job_settings)
    sql = "SELECT count(*) AS n FROM events WHERE job_id = ? AND stage = 'index' AND event = 'end'"
    wait_for(lambda: analytics.query(settings, sql, [job_id])["n"][0] > 0, what="the first indexed batch")
    pid = worker_pid(settings)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert analytics.query(settings, sql, [job_id])["n"][0] < 48, "the job ended before the kill"
    wait_for(lambda: worker_pid(settings) != pid, timeout_s=30, what="the lock to be released")
    summary = inlet.wait(job_id, progress=False, timeout=900, settings=settings)  # starts a new worker
    assert summary["status"] == "completed"
    assert worker_pid(settings) not in (None, pid)
    store = Store(settings)
    rows = store.source_rows("resume")
    assert rows.height == 48 and rows["source_id"].n_unique() == 48
    chunk_ids = store.chunks().to_arrow().column("chunk_id").to_pylist()
    assert len(chunk_ids) == len(set(chunk_ids))


def test_the_worker_recycles_itself_between_jobs_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``INLET_WORKER_MAX_JOBS=2``: after two jobs the worker starts afresh (a new process image,
    models loaded again) and the third job runs on it."""
    monkeypatch.setenv("INLET_WORKER_MAX_JOBS", "2")
    settings = get_settings()
    try:
        for i in range(3):
            path = note(tmp_path, f"n{i}.txt", f"Note {i}: the tram to stop {i} runs every ten minutes.")
            job_id = inlet.submit([path], "recycle", settings=settings)
            assert inlet.wait(job_id, progress=False, timeout=600, settings=settings)["status"] == "completed"
    finally:
        stop_worker(settings)
    log = (settings.home / "logs" / "worker.log").read_text()
    assert "recycling: 2 flow runs done" in log, log[-3000:]
    assert log.count("loaded all-MiniLM-L6-v2") == 2, log[-3000:]
    assert Store(settings).count_chunks("recycle") == 3
