"""Two ``inlet worker`` processes, as on two machines, share the jobs of a team: a large job
submitted from a third home is split into parts that both take, every file ends searchable once
from that home, a cancel through the Prefect API stops both workers' parts, and the part of a
worker killed mid-way is finished by the other.

One real ``prefect server`` and one S3 server (moto) on 127.0.0.1 serve the module. Workers
``a`` and ``b`` (``inlet worker --name``) each have their own home folder (and Prefect home)
and share nothing on disk: only the server's address, the store's address (``INLET_STORE``)
and the AWS variables. This test process is the third home, which submits from its local files
(staged to the store) and reads. The worker is killed in the module's last test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import polars as pl
import pytest
from click.testing import CliRunner

import inlet
from flows.submit import api, job_row, result
from inlet.cli import main as cli
from pipelines import analytics
from pipelines.config import Settings, get_settings
from pipelines.objstore import INPUT_REFERENCE
from pipelines.sources import hash_file
from pipelines.store import Store
from tests.flows.test_server_mode import BIN, REPO, server, stop
from tests.s3_server import aws_env, new_store, object_keys

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

pytestmark = pytest.mark.slow

__all__ = ["server"]  # the module-scoped Prefect server fixture, shared with its own module

NAMES = ("a", "b")

PDFS = {  # a real PDF of the shared data: words of its text
    "pdfs/pypdf/crazyones.pdf": "misfits rebels troublemakers",
    "pdfs/sample-files/multicolumn.pdf": "lorem ipsum in two columns",
    "pdfs/pypdf/hello-world.pdf": "Hello World",
}
RECORDINGS = {  # a short recording: words of what is said
    "audio/pocketsphinx/goforward.wav": "go forward ten meters",
    "audio/pocketsphinx/cards_005.wav": "eight of spades four of clubs seven of hearts",
}


def corpus(folder: Path, shared: Path, n: int, skip: int = 0) -> dict[str, str]:
    """``n`` SciFact abstracts as text files; their titles by file name."""
    folder.mkdir(exist_ok=True)
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


def mixed_corpus(folder: Path, shared: Path, n: int) -> dict[str, str]:
    """``n`` files: real PDFs and recordings, the rest SciFact abstracts; words to find each by."""
    folder.mkdir()
    words = {}
    for relative, text in {**PDFS, **RECORDINGS}.items():
        shutil.copy(shared / relative, folder / Path(relative).name)
        words[Path(relative).name] = text
    return words | corpus(folder, shared, n - len(words))


@pytest.fixture(scope="module")
def team_store(s3_endpoint: str) -> dict[str, str]:
    """The team's store, a new bucket on the module's S3 server: the variables every machine sets."""
    return {"INLET_STORE": new_store(s3_endpoint), **aws_env(s3_endpoint)}


@pytest.fixture(scope="module")
def workers(
    server: dict[str, str], team_store: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Workers ``a`` and ``b``, each on a home of its own, both online (their heartbeats seen)
    before a job."""
    root = tmp_path_factory.mktemp("workers")
    # What a machine of the team is given: the server's and the store's addresses. Not the
    # server's Prefect home nor any inlet home; the exported models are this user's cache of
    # the session, outside every home (another machine would export its own, once).
    machine = {
        k: v for k, v in server.items()
        if k != "PREFECT_HOME" and (not k.startswith("INLET_") or k == "INLET_MODELS_DIR")
    }  # fmt: skip
    homes = {name: root / f"home-{name}" for name in NAMES}
    started = {}
    logs = {}
    for name in NAMES:
        logs[name] = open(root / f"worker-{name}.log", "wb")  # noqa: SIM115 - closed below
        started[name] = subprocess.Popen(
            [str(BIN / "inlet"), "worker", "--name", name],
            env={**machine, **team_store, "INLET_HOME": str(homes[name]), "INLET_WORKER_HEARTBEAT_S": "3"},
            cwd=REPO,
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
                    if len(online) == 2 and client.read_work_pool("inlet").concurrency_limit == 4:
                        break
                    assert time.monotonic() < deadline, f"workers online: {online}"
                    time.sleep(0.5)
        yield {
            "env": {"PREFECT_API_URL": server["PREFECT_API_URL"], **team_store},
            "homes": homes, "processes": started, "logs": root, "killed": set(),
        }  # fmt: skip
    finally:
        for process in started.values():  # both at once: each takes seconds to stop
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for name, process in started.items():
            stop(process)
            logs[name].close()


@pytest.fixture
def team(workers: dict[str, Any], inlet_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """This test process as a third machine: a home of its own (``inlet_home``), the server's
    and the store's addresses. Speech is English (no language detection: the clips are short)."""
    for name, value in workers["env"].items():
        monkeypatch.setenv(name, value)
    return get_settings(whisper_language="en")


def wait_for(
    settings: Settings, job_id: str, workers: dict[str, Any], timeout_s: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (summary := result(settings, job_id)) is None:
        for name, process in workers["processes"].items():
            if name not in workers["killed"]:
                assert process.poll() is None, (workers["logs"] / f"worker-{name}.log").read_text()[-3000:]
        assert time.monotonic() < deadline, (
            f"job {job_id} did not end: {analytics.jobs(settings, job_id=job_id)}"
        )
        time.sleep(0.3)
    return summary


def part_runs(settings: Settings, job_id: str) -> list[FlowRun]:
    from prefect.client.orchestration import get_client

    from flows.parts import part_runs

    with api(settings), get_client(sync_client=True) as client:
        return part_runs(client, job_id)


def part_states(settings: Settings, job_id: str) -> list[str]:
    return [r.state.type.value if r.state else "NONE" for r in part_runs(settings, job_id)]


def holder(run: FlowRun) -> str | None:
    """The name of the worker running ``run`` (it wrote ``inlet-<name>-<host>-<pid>`` on it), if
    it runs."""
    running = run.state is not None and run.state.type.value == "RUNNING"
    return (run.infrastructure_pid or "").split("-")[1] if running and run.infrastructure_pid else None


def held_parts(settings: Settings, job_id: str) -> dict[str, FlowRun]:
    """The part runs of a job under way, by the worker that runs each."""
    return {name: run for run in part_runs(settings, job_id) if (name := holder(run))}


def test_a_job_from_a_third_home_is_spread_over_both_workers_and_searchable_there(
    team: Settings, workers: dict[str, Any], tmp_path: Path, shared: Path
) -> None:
    folder = tmp_path / "job"
    words = mixed_corpus(folder, shared, 40)
    job_id = inlet.submit([folder], "spread", settings=team, part_size=8)
    summary = wait_for(team, job_id, workers)

    assert summary["status"] == "completed", summary
    assert sorted(s["file"] for s in summary["sources"]) == sorted(words)
    assert {s["status"] for s in summary["sources"]} == {"ingested"}, summary["sources"]
    assert part_states(team, job_id) == ["COMPLETED"] * 4  # 40 files: the job's run and four parts

    files = inlet.job_sources(job_id, settings=team)
    assert files.height == 40 and set(files["status"]) == {"ingested"}
    assert set(files["worker"]) == {"a", "b"}, files.select("file", "worker")
    job = inlet.jobs(job_id=job_id, settings=team).row(0, named=True)
    assert (job["status"], job["sources"], job["progress"], job["workers"]) == (
        "completed",
        40,
        1.0,
        ["a", "b"],
    )
    shown = CliRunner().invoke(cli, ["jobs", job_id, "--json"], env={"INLET_HOME": str(team.home)})
    assert shown.exit_code == 0, shown.output
    assert {f["worker"] for f in json.loads(shown.output)["sources"]} == {"a", "b"}

    # the local files went to the store, once each by content, and each worker ingested its own
    # copy from there: its home never saw the submitter's paths, and the submitter's home holds
    # none of the workers' files
    assert team.store is not None
    assert {hash_file(folder / name) for name in words} <= set(object_keys(team.store, "inputs"))
    homes, by_worker = workers["homes"], dict(files.select("file", "worker").iter_rows())
    for source in summary["sources"]:
        copy = Path(source["path"])
        assert copy.is_relative_to(homes[by_worker[source["file"]]] / "cache" / "inputs"), source
        assert copy.read_bytes() == (folder / source["file"]).read_bytes()
    for home in homes.values():
        assert (home / "cache" / "extract").is_dir()
        for kept in (p for p in home.rglob("*") if p.is_file()):
            assert str(folder).encode() not in kept.read_bytes(), f"{kept} names the submitter's folder"
    seen = analytics.query(
        team,
        "SELECT count(*) AS n FROM events WHERE job_id = ? AND starts_with(path, ?)",
        [job_id, str(folder)],
    )
    assert seen["n"][0] == 0
    assert not (team.home / "cache").exists(), sorted(map(str, (team.home / "cache").rglob("*")))[:5]

    chunks = Store(team).chunk_rows(collection="spread")
    assert chunks["chunk_id"].n_unique() == chunks.height, "a chunk was written twice"
    assert set(chunks["file"]) == set(words)
    assert set(chunks.filter(pl.col("file").is_in(list(words)[:5]))["kind"]) == {"pdf", "audio"}
    for name, text in words.items():
        hits = inlet.search(text, mode="text", collection="spread", file=name, limit=1, settings=team)
        assert hits.height == 1, f"{name} is not searchable from the third home"


SPOKEN = (  # real recordings of 5 to 11 s: a part with one is seconds of transcription
    "audio/fw_jfk.flac", "audio/lhotse_2412-153948-0000.flac", "audio/lhotse_2412-153948-0001.flac",
    "audio/lhotse_LJ002-0020.wav", "audio/lhotse_LJ002-0035.wav", "audio/lhotse_libri-1088-134315-0000.wav",
    "audio/pywhispercpp_jfk.wav", "audio/lhotse_common_voice_en_651325.mp3",
)  # fmt: skip


def test_a_cancel_through_the_prefect_api_stops_both_workers_parts(
    team: Settings, workers: dict[str, Any], tmp_path: Path, shared: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    folder = tmp_path / "many"
    folder.mkdir()
    titles = iter(corpus(tmp_path / "texts", shared, len(SPOKEN), skip=40))
    for i, relative in enumerate(SPOKEN):  # parts of two files (by name): a recording and an abstract
        shutil.copy(shared / relative, folder / f"p{i:02d}-a{Path(relative).suffix}")
        shutil.copy(tmp_path / "texts" / next(titles), folder / f"p{i:02d}-b.txt")
    job_id = inlet.submit([folder], "stopped", settings=team, part_size=2)
    deadline = time.monotonic() + 240
    while True:  # cancel once each worker runs a part of the job and parts are still waiting
        runs = part_runs(team, job_id)
        held = {name for run in runs if (name := holder(run))}
        waiting = [r for r in runs if r.state is not None and r.state.type.value == "SCHEDULED"]
        if held == set(NAMES) and waiting:
            break
        assert result(team, job_id) is None, "the job ended before both workers ran a part at once"
        assert time.monotonic() < deadline, (
            f"both workers never ran a part at once: {part_states(team, job_id)}"
        )
        time.sleep(0.2)
    asked = time.monotonic()
    job_run = job_row(team, job_id)["flow_run_id"]  # as the Prefect UI's Cancel button does
    with api(team), get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(job_run), Cancelling(message="cancelled in the Prefect UI"))
    summary = wait_for(team, job_id, workers, timeout_s=120)
    took = time.monotonic() - asked

    assert summary["status"] == "cancelled"
    statuses = [s["status"] for s in summary["sources"]]
    assert len(statuses) == 2 * len(SPOKEN) and "cancelled" in statuses, statuses
    ended = {str(r.id): r.state.type.value if r.state else "NONE" for r in part_runs(team, job_id)}
    assert len(ended) == len(SPOKEN) - 1 and set(ended.values()) <= {"COMPLETED", "CANCELLED"}, ended
    assert "CANCELLED" in set(ended.values()), ended
    assert took < 60, f"the cancel took {took:.0f} s"
    finished = analytics.jobs(team, job_id=job_id)["finished_at"][0]
    late = analytics.query(
        team, 'SELECT count(*) AS n FROM events WHERE job_id = ? AND "at" > ?', [job_id, finished]
    )
    assert late["n"][0] == 0, "a part went on after the job ended"
    chunks = Store(team).chunk_rows(collection="stopped")
    assert chunks["chunk_id"].n_unique() == chunks.height


def test_the_part_of_a_killed_worker_is_finished_by_the_other(
    team: Settings, workers: dict[str, Any], tmp_path: Path, shared: Path
) -> None:
    from prefect.client.orchestration import get_client

    titles = corpus(tmp_path / "kill", shared, 20, skip=80)
    job_id = inlet.submit([tmp_path / "kill"], "survived", settings=team, part_size=5)
    job_run = UUID(job_row(team, job_id)["flow_run_id"])
    deadline = time.monotonic() + 240
    while True:  # kill the worker that does not run the job's run, while it runs a part
        with api(team), get_client(sync_client=True) as client:
            survivor = holder(client.read_flow_run(job_run))
        victim = next((n for n in NAMES if n != survivor), None)
        held = held_parts(team, job_id)
        if survivor and victim in held:
            break
        assert result(team, job_id) is None, "the job ended before a part could be killed"
        assert time.monotonic() < deadline, f"no part ran on a second worker: {part_states(team, job_id)}"
        time.sleep(0.2)
    process = workers["processes"][victim]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    workers["killed"].add(victim)
    killed = held[victim]
    with api(team), get_client(sync_client=True) as client:
        left = client.read_flow_run(killed.id)
    assert left.state is not None and left.state.type.value == "RUNNING", "the part ended before the kill"
    assert result(team, job_id) is None, "the job ended before the kill"

    summary = wait_for(
        team, job_id, workers, timeout_s=240
    )  # a worker is dead after three heartbeats (9 s) of silence
    assert summary["status"] == "completed", summary
    assert sorted(s["file"] for s in summary["sources"]) == sorted(titles)  # each file once
    assert {s["status"] for s in summary["sources"]} <= {"ingested", "unchanged"}, summary["sources"]
    assert part_states(team, job_id) == ["COMPLETED"] * 3
    files = inlet.job_sources(job_id, settings=team)
    assert files.height == 20
    references = [INPUT_REFERENCE.match(p) for p in (killed.parameters or {}).get("paths") or []]
    killed_files = {r["name"] for r in references if r is not None}
    assert len(killed_files) == 5
    assert set(files.filter(pl.col("file").is_in(list(killed_files)))["worker"]) == {survivor}
    chunks = Store(team).chunk_rows(collection="survived")
    assert chunks["chunk_id"].n_unique() == chunks.height, "a chunk was written twice"
    assert set(chunks["file"]) == set(titles)
    assert chunks.group_by("file").agg(pl.col("source_id").n_unique())["source_id"].max() == 1
