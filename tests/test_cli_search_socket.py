"""``inlet`` at the terminal answers fast: ``--help`` loads no store, and ``inlet search`` is
answered by the home's warm local worker over its socket, with the same output as a search in
the command's own process, and falls back to that when no worker answers; ``inlet ingest``
hands its job to the worker, which follows it for the command, the same way."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.local_worker import stop_worker
from flows.worker_lock import worker_pid
from pipelines import analytics
from pipelines.config import Settings, get_settings
from tests.conftest import SAMPLES

HEAVY = {
    "lancedb",
    "polars",
    "prefect",
    "torch",
    "pyarrow",
    "duckdb",
    "onnxruntime",
    "sentence_transformers",
    "pydantic",
}
"""What a search loads in a process that searches by itself, and ``--help`` or a command the
worker answers never needs (pydantic: the settings, made by the worker from the command's
environment)."""
QUERY = "ask not what your country can do for you"


def inlet(*args: str, home: Path, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    """The ``inlet`` command in a new process, as a user runs it."""
    flags = ["-X", "importtime"] if importtime else []
    env = {**os.environ, "INLET_HOME": str(home)}
    done = subprocess.run([sys.executable, *flags, "-m", "inlet.cli", *args], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def imported(stderr: str) -> set[str]:
    """The top-level packages a ``-X importtime`` run imported."""
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in stderr.splitlines()
        if line.startswith("import time:")
    }


def test_help_imports_no_store_no_frames_no_prefect_no_model(tmp_path: Path) -> None:
    for args in (["--help"], ["search", "--help"], ["status", "--help"]):
        done = inlet(*args, home=tmp_path / "home", importtime=True)
        assert "Usage: " in done.stdout
        assert not imported(done.stderr) & HEAVY, args
    assert not (tmp_path / "home").exists()  # asking for help touches no home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with the samples ingested by ``inlet ingest``, which starts its local worker."""
    home = tmp_path_factory.mktemp("socket") / "home"
    done = inlet("ingest", str(SAMPLES), "-c", "speeches", "--json", home=home)
    assert json.loads(done.stdout)["status"] == "completed"
    yield home
    stop_worker(get_settings(home=str(home)))


@pytest.fixture
def settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("INLET_HOME", str(home))
    return get_settings(home=str(home))


def searches_recorded(settings: Settings) -> int:
    return int(analytics.query(settings, "SELECT count(*) AS n FROM searches")["n"][0])


def wait_for(check, timeout_s: float = 30.0) -> None:  # noqa: ANN001
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout_s
        time.sleep(0.1)


def rounded(value: object) -> object:
    """``value`` (parsed JSON) with its floats to 9 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def socket_aside(settings: Settings) -> Path:
    aside = settings.query_socket_file.with_name("query.sock.aside")
    os.replace(settings.query_socket_file, aside)
    return aside


@pytest.mark.slow
def test_the_worker_answers_inlet_search_with_the_same_output_as_a_search_in_process(
    settings: Settings,
) -> None:
    sock = settings.query_socket_file
    assert worker_pid(settings) and sock.is_socket()
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600  # the user's alone
    searches = [
        [QUERY, "--json"],
        [QUERY],
        ["cruel and unusual", "-m", "text", "--kind", "pdf", "-n", "2"],
        ["truths self-evident", "-m", "vector", "--json", "-c", "speeches", "--since", "2000-01-01"],
        ["nothing matches qqqzzz", "-m", "text", "--json"],
    ]
    for args in searches:
        before = searches_recorded(settings)
        through = inlet("search", *args, home=settings.home, importtime=True)
        assert not imported(through.stderr) & HEAVY, args  # answered by the worker, loaded nothing
        wait_for(lambda n=before: searches_recorded(settings) == n + 1)  # the worker recorded it
        aside = socket_aside(settings)
        try:
            alone = inlet("search", *args, home=settings.home, importtime=True)
        finally:
            os.replace(aside, sock)
        assert {"lancedb", "polars"} <= imported(alone.stderr)  # searched in its own process
        assert through.stdout == alone.stdout, args
        assert searches_recorded(settings) == before + 2  # once each way
    out = json.loads(inlet("search", QUERY, "--json", home=settings.home).stdout)
    assert out["results"][0]["file"] == "jfk_inaugural_excerpt.wav" and "collection" not in out["results"][0]
    time.sleep(1)
    rows = analytics.query(settings, 'SELECT * FROM searches ORDER BY "at"').to_dicts()
    assert len(rows) == 2 * len(searches) + 1  # none recorded twice
    assert rows[-1]["query"] == QUERY and rows[-1]["mode"] == "hybrid" and rows[-1]["results"] == 5


@pytest.mark.slow
def test_the_worker_answers_inlet_jobs_and_status_with_the_same_output_as_in_process(
    settings: Settings,
) -> None:
    job_id = json.loads(inlet("jobs", "--json", home=settings.home).stdout)["jobs"][0]["job_id"]
    for args in (["jobs"], ["jobs", "--json"], ["jobs", "--status", "completed", "-c", "speeches"],
                 ["jobs", job_id], ["jobs", job_id, "--json"], ["status"], ["status", "--json"]):  # fmt: skip
        through = inlet(*args, home=settings.home, importtime=True)
        assert not imported(through.stderr) & HEAVY, args  # answered by the worker, loaded nothing
        aside = socket_aside(settings)
        try:
            alone = inlet(*args, home=settings.home, importtime=True)
        finally:
            os.replace(aside, settings.query_socket_file)
        assert "duckdb" in imported(alone.stderr), args  # read the analytics in its own process
        if "--json" in args:  # DuckDB sums floats in no fixed order: the last digits may differ
            assert rounded(json.loads(through.stdout)) == rounded(json.loads(alone.stdout)), args
        else:
            assert through.stdout == alone.stdout, args
    shown = json.loads(inlet("status", "--json", home=settings.home).stdout)
    assert shown["mode"] == "embedded" and shown["worker_pid"] == worker_pid(settings) and shown["server_up"]
    assert sum(shown["queues"].values()) == 0 and shown["running"] == 0


@pytest.mark.slow
def test_the_worker_takes_and_follows_inlet_ingest_and_without_it_the_command_does_it_itself(
    settings: Settings, tmp_path: Path
) -> None:
    pid = worker_pid(settings)
    notes = []
    for i, text in enumerate(["The heron waited at the weir for the silver eels.",
                              "A lighthouse keeper logs every passing tanker by hand."]):  # fmt: skip
        notes.append(tmp_path / f"note{i}.txt")
        notes[-1].write_text(text + "\n")
    through = inlet("ingest", str(notes[0]), "-c", "notes", home=settings.home, importtime=True)
    assert not imported(through.stderr) & HEAVY  # no Prefect client, no analytics reader here
    assert "1 ingested" in through.stdout and "completed" in through.stdout
    assert "ingested  note0.txt (text, 1 chunk)" in through.stdout
    aside = socket_aside(settings)
    try:
        alone = inlet("ingest", str(notes[1]), "-c", "notes", "--json", home=settings.home, importtime=True)
    finally:
        os.replace(aside, settings.query_socket_file)
    assert {"prefect", "duckdb"} <= imported(alone.stderr)  # submitted and followed it by itself
    assert json.loads(alone.stdout)["status"] == "completed"
    assert worker_pid(settings) == pid  # the same warm worker ran both jobs
    jobs = analytics.query(settings, "SELECT * FROM job_state WHERE collection = 'notes'").to_dicts()
    assert len(jobs) == 2 and {j["status"] for j in jobs} == {"completed"}  # each job once
    hits = json.loads(
        inlet("search", "heron at the weir", "-c", "notes", "--json", home=settings.home).stdout
    )
    assert hits["results"][0]["file"] == "note0.txt"


@pytest.mark.slow
def test_when_the_workers_answer_to_a_submit_is_lost_the_command_follows_that_job_and_submits_no_other(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    import flows.query_socket
    from inlet.cli import main

    real = flows.query_socket.submit_in_worker

    def answer_lost(asker, request):  # noqa: ANN001, ANN202 - the worker takes the job, its answer never comes
        assert real(asker, request) == request.job_id
        return None

    monkeypatch.setattr(flows.query_socket, "submit_in_worker", answer_lost)
    note = tmp_path / "kept.txt"
    note.write_text("The ferryman kept a ledger of every crossing in red ink.\n")
    done = CliRunner().invoke(main, ["ingest", str(note), "-c", "lost", "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["status"] == "completed" and summary["sources"][0]["file"] == "kept.txt"
    jobs = analytics.query(settings, "SELECT job_id FROM job_state WHERE collection = 'lost'")["job_id"]
    assert jobs.to_list() == [summary["job_id"]]  # one job, not the same files submitted again


@pytest.mark.slow
def test_a_bad_request_gets_an_error_reply_and_the_worker_keeps_answering(settings: Settings) -> None:
    pid = worker_pid(settings)
    for request in (
        b"not json\n",
        b'{"search": {"query": 3}}\n',
        b'{"search": {"query": "x", "rm": 1}}\n',
        json.dumps({"search": {"query": "x", "mode": "nope"}, "settings": {}}).encode() + b"\n",
        b'{"submit": {"paths": "/etc", "rm": 1}, "settings": {}}\n',
        b'{"submit": {"paths": ["/etc"], "collection": "x"}}\n',
        b'{"follow": {"job": 1}}\n',
        b'{"search": {"query": "x"}, "settings": {}}',
    ):  # the last one never ends its line
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(30)
            conn.connect(str(settings.query_socket_file))
            conn.sendall(request)
            conn.shutdown(socket.SHUT_WR)
            reply = json.loads(conn.makefile("rb").readline())
        assert set(reply) == {"error"} and reply["error"], request[:40]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:  # connects, never asks
        idle.connect(str(settings.query_socket_file))
        done = inlet("search", QUERY, "--json", home=settings.home, importtime=True)
    assert not imported(done.stderr) & HEAVY and json.loads(done.stdout)["results"]
    assert worker_pid(settings) == pid


@pytest.mark.slow
def test_with_no_worker_and_its_dead_socket_left_behind_inlet_search_searches_by_itself(
    settings: Settings,
) -> None:
    through = inlet("search", QUERY, home=settings.home)
    stop_worker(settings)
    assert not settings.query_socket_file.exists()  # a stopped worker removes its socket
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # a worker killed outright leaves one
    dead.bind(str(settings.query_socket_file))
    dead.close()
    assert settings.query_socket_file.is_socket()
    began = time.monotonic()
    alone = inlet("search", QUERY, home=settings.home)
    assert alone.stdout == through.stdout and "1. jfk_inaugural_excerpt.wav, 00:00.0–" in alone.stdout
    assert time.monotonic() - began < 60


@pytest.mark.slow
def test_a_worker_that_answers_searches_is_in_use_and_stops_only_once_they_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.local_worker import ensure_worker
    from flows.query_socket import search_in_worker

    monkeypatch.setenv("INLET_WORKER_IDLE_S", "6")
    settings = get_settings(home=str(tmp_path / "home"))
    ensure_worker(settings)
    wait_for(lambda: settings.local_api_url() is not None, timeout_s=300)  # serving: the idle clock runs
    pid = worker_pid(settings)
    began = time.monotonic()
    while time.monotonic() - began < 15:  # more than twice the idle time, a search every second
        assert search_in_worker(settings, query="anything", mode="text") == []  # answered: an empty home
        time.sleep(1)
    assert worker_pid(settings) == pid
    quiet = time.monotonic()
    wait_for(lambda: worker_pid(settings) is None, timeout_s=60)
    assert time.monotonic() - quiet >= 5  # it waited out its idle time after the last search
    assert not settings.query_socket_file.exists()
