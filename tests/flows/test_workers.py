"""Two named ``inlet worker`` processes on one team server share a large job: it is split into
parts that both take, every file ends searchable once, and a cancel stops every part.

One real ``prefect server`` on 127.0.0.1 and two workers (``--name a``, ``--name b``) on the same
home folder serve every test of this module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import inlet
from flows.submit import result
from inlet.cli import main as cli
from pipelines import analytics
from pipelines.config import Settings, get_settings
from pipelines.store import Store
from tests.flows.test_server_mode import BIN, REPO, server, stop

pytestmark = pytest.mark.slow

__all__ = ["server"]  # the module-scoped Prefect server fixture, shared with its own module


def corpus(folder: Path, shared: Path, n: int, skip: int = 0) -> dict[str, str]:
    """``n`` SciFact abstracts as text files; their titles by file name."""
    folder.mkdir()
    titles = {}
    with (shared / "retrieval" / "scifact" / "corpus.jsonl").open() as lines:
        for i, line in enumerate(lines):
            if i < skip:
                continue
            if len(titles) == n:
                break
            doc = json.loads(line)
            name = f"{doc['_id']}.txt"
            (folder / name).write_text(f"{doc['title']}\n\n{doc['text']}\n")
            titles[name] = doc["title"]
    return titles


@pytest.fixture(scope="module")
def workers(server: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Workers ``a`` and ``b`` on one home, both online (their heartbeats seen) before a job."""
    root = tmp_path_factory.mktemp("workers")
    env = {**server, "INLET_HOME": str(root / "home")}
    started = {}
    logs = {}
    for name in ("a", "b"):
        logs[name] = open(root / f"worker-{name}.log", "wb")  # noqa: SIM115 - closed below
        started[name] = subprocess.Popen(
            [str(BIN / "inlet"), "worker", "--name", name], env=env, cwd=REPO,
            stdout=logs[name], stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.claims import live_workers

        deadline = time.monotonic() + 180
        with temporary_settings(updates={PREFECT_API_URL: server["PREFECT_API_URL"]}):
            with get_client(sync_client=True) as client:
                while True:
                    for name, process in started.items():
                        assert process.poll() is None, (root / f"worker-{name}.log").read_text()[-3000:]
                    try:
                        online = live_workers(client, "inlet")
                    except Exception:  # noqa: BLE001 - the pool is made by the first worker up
                        online = set()
                    if len(online) == 2 and client.read_work_pool("inlet").concurrency_limit == 2:
                        break
                    assert time.monotonic() < deadline, f"workers online: {online}"
                    time.sleep(0.5)
        yield {"env": env, "home": root / "home", "processes": started, "logs": root}
    finally:
        for process in started.values():  # both at once: each takes seconds to stop
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for name, process in started.items():
            stop(process)
            logs[name].close()


@pytest.fixture
def team(workers: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """This test process submits and reads as a third machine would: the server's address, the
    shared home, parts of four files."""
    monkeypatch.setenv("PREFECT_API_URL", workers["env"]["PREFECT_API_URL"])
    monkeypatch.setenv("INLET_HOME", str(workers["home"]))
    return get_settings(part_size=4)


def wait_for(
    settings: Settings, job_id: str, workers: dict[str, Any], timeout_s: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (summary := result(settings, job_id)) is None:
        for name, process in workers["processes"].items():
            assert process.poll() is None, (workers["logs"] / f"worker-{name}.log").read_text()[-3000:]
        assert time.monotonic() < deadline, (
            f"job {job_id} did not end: {analytics.jobs(settings, job_id=job_id)}"
        )
        time.sleep(0.3)
    return summary


def part_states(settings: Settings, job_id: str) -> list[str]:
    from prefect.client.orchestration import get_client

    from flows.parts import part_runs
    from flows.submit import api

    with api(settings), get_client(sync_client=True) as client:
        return [r.state.type.value if r.state else "NONE" for r in part_runs(client, job_id)]


def test_a_large_job_is_spread_over_both_workers(
    team: Settings, workers: dict[str, Any], tmp_path: Path, shared: Path
) -> None:
    titles = corpus(tmp_path / "papers", shared, 16)
    job_id = inlet.submit([tmp_path / "papers"], "spread", settings=team)
    summary = wait_for(team, job_id, workers)

    assert summary["status"] == "completed", summary
    assert sorted(s["file"] for s in summary["sources"]) == sorted(titles)
    assert {s["status"] for s in summary["sources"]} == {"ingested"}
    assert part_states(team, job_id) == ["COMPLETED"] * 3  # 16 files: the job's run and three parts

    files = inlet.job_sources(job_id, settings=team)
    assert files.height == 16 and set(files["status"]) == {"ingested"}
    assert set(files["worker"]) == {"a", "b"}, files.select("file", "worker")
    job = inlet.jobs(job_id=job_id, settings=team).row(0, named=True)
    assert (job["status"], job["sources"], job["progress"], job["workers"]) == (
        "completed",
        16,
        1.0,
        ["a", "b"],
    )
    shown = CliRunner().invoke(cli, ["jobs", job_id, "--json"], env={"INLET_HOME": str(workers["home"])})
    assert shown.exit_code == 0, shown.output
    assert {f["worker"] for f in json.loads(shown.output)["sources"]} == {"a", "b"}

    chunks = Store(team).chunk_rows(collection="spread")
    assert chunks["chunk_id"].n_unique() == chunks.height, "a chunk was written twice"
    assert set(chunks["file"]) == set(titles)
    for name, title in titles.items():
        hits = inlet.search(title, mode="text", collection="spread", file=name, limit=1, settings=team)
        assert hits.height == 1, f"{name} is not searchable"


def test_cancel_stops_every_part_of_a_running_job(
    team: Settings, workers: dict[str, Any], tmp_path: Path, shared: Path
) -> None:
    corpus(tmp_path / "many", shared, 40, skip=16)
    job_id = inlet.submit([tmp_path / "many"], "stopped", settings=team)
    deadline = time.monotonic() + 240
    while True:  # cancel once files are done and parts are under way
        done = analytics.job_sources(team, job_id).filter(status="ingested").height
        if done and any(state in ("PENDING", "RUNNING") for state in part_states(team, job_id)):
            break
        assert result(team, job_id) is None, "the job ended before it could be cancelled"
        assert time.monotonic() < deadline, "no part started"
        time.sleep(0.3)
    asked = time.monotonic()
    assert inlet.cancel(job_id, settings=team) == "cancelling"
    summary = wait_for(team, job_id, workers, timeout_s=120)
    took = time.monotonic() - asked

    assert summary["status"] == "cancelled"
    statuses = [s["status"] for s in summary["sources"]]
    assert len(statuses) == 40 and "cancelled" in statuses, statuses
    states = part_states(team, job_id)
    assert len(states) == 9 and set(states) <= {"COMPLETED", "CANCELLED"} and "CANCELLED" in states, states
    assert took < 60, f"the cancel took {took:.0f} s"
    ended = analytics.jobs(team, job_id=job_id)["finished_at"][0]
    late = analytics.query(
        team, 'SELECT count(*) AS n FROM events WHERE job_id = ? AND "at" > ?', [job_id, ended]
    )
    assert late["n"][0] == 0, "a part went on after the job ended"
    chunks = Store(team).chunk_rows(collection="stopped")
    assert chunks["chunk_id"].n_unique() == chunks.height
