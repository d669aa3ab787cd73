"""Server mode for real: `prefect server start`, `prefect deploy --all`, a worker on the `inlet`
pool, jobs submitted with `inlet ingest` — exactly the README's steps — and priorities honoured."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.submit import result
from pipelines import analytics
from pipelines.config import get_settings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLES = REPO / "samples" / "corpus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """SIGINT first (a Prefect worker may ignore SIGTERM for a while), then kill."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server on 127.0.0.1, a free port and its own PREFECT_HOME."""
    root = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "INLET_HOME": str(root / "inlet-home"),
    }
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, (root / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "prefect server did not answer in 180 s"
            time.sleep(1)
        yield env
    finally:
        stop(process)
        log.close()


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def submit(env: dict[str, str], jobs: list[tuple[Path, str]]) -> list[str]:
    """Submit jobs as ``inlet.submit`` does for the CLI, one process for all (quick one after another)."""
    script = (
        "import json, sys, inlet\n"
        "jobs = json.loads(sys.argv[1])\n"
        "print(json.dumps([inlet.submit([p], 'served', priority=pr) for p, pr in jobs]))"
    )
    out = run([sys.executable, "-c", script, json.dumps([[str(p), pr] for p, pr in jobs])], env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def busy_corpus(folder: Path, shared: Path, n: int = 150) -> Path:
    """Enough SciFact abstracts that their job keeps the worker busy for a while."""
    folder.mkdir()
    with (shared / "retrieval" / "scifact" / "corpus.jsonl").open() as lines:
        for _, line in zip(range(n), lines, strict=False):
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    return folder


def test_deployed_jobs_run_on_a_worker_high_priority_first(
    server: dict[str, str], tmp_path: Path, shared: Path
) -> None:
    env = server
    deployed = run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], env, timeout=600)
    for name in ("ingest", "ingest-inbox", "maintenance", "retry-failed"):
        assert f"'{name}'" in deployed.stdout or name in deployed.stdout, deployed.stdout[-3000:]
    queues = run([str(BIN / "prefect"), "work-queue", "ls", "--pool", "inlet"], env).stdout
    assert all(q in queues for q in ("high", "normal", "low")), queues

    worker_env = {**env, "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "2"}
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "inlet"],
        env=worker_env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    settings = get_settings(home=env["INLET_HOME"])
    try:
        corpus = busy_corpus(tmp_path / "busy", shared)
        out = run([str(BIN / "inlet"), "ingest", str(SAMPLES), str(corpus), "-c", "served", "--json"], env)
        answer = json.loads(out.stdout)
        assert answer["status"] == "queued"  # server mode returns at once
        busy = answer["job_id"]
        deadline = time.monotonic() + 300
        while analytics.jobs(settings, job_id=busy)["status"].to_list() != ["running"]:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the first job never started"
            time.sleep(1)
        notes = tmp_path / "notes"
        notes.mkdir()
        (notes / "low.txt").write_text("Low priority: the river rose two metres after the spring rain.")
        (notes / "high.txt").write_text("High priority: the bridge inspection found cracks in two piers.")
        low, high = submit(env, [(notes / "low.txt", "low"), (notes / "high.txt", "high")])
        deadline = time.monotonic() + 600
        while any(result(settings, j) is None for j in (busy, low, high)):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(1)
    finally:
        stop(worker)
        log.close()
    assert [result(settings, j)["status"] for j in (busy, low, high)] == ["completed"] * 3
    times = analytics.query(settings, "SELECT job_id, submitted_at, started_at, finished_at FROM job_state")
    busy_end = times.filter(job_id=busy)["finished_at"][0]
    high_in = times.filter(job_id=high)["submitted_at"][0]
    assert busy_end > high_in, f"the first job ended before both others were queued: {times}"
    started = analytics.query(
        settings,
        "SELECT job_id FROM job_state WHERE job_id IN (?, ?, ?) ORDER BY started_at",
        [busy, low, high],
    )["job_id"].to_list()
    assert started == [busy, high, low]
    runs = analytics.jobs(settings)
    assert runs.filter(job_id=high)["flow_run_id"][0]  # linked to its Prefect flow run


def test_inlet_worker_runs_the_server_s_jobs_in_process_with_warm_models(
    server: dict[str, str], tmp_path: Path
) -> None:
    """``inlet worker`` on the same server (no ``prefect worker start``): it creates the pool
    and the deployments it needs, runs two jobs in its own process and loads the model once."""
    env = {**server, "INLET_HOME": str(tmp_path / "worker-home")}
    log_path = tmp_path / "inlet-worker.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen([str(BIN / "inlet"), "worker"], env=env, cwd=REPO, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    settings = get_settings(home=env["INLET_HOME"])
    try:
        notes = tmp_path / "notes"
        notes.mkdir()
        (notes / "one.txt").write_text("The tide tables for the northern harbour were revised.")
        (notes / "two.txt").write_text("A new footbridge crosses the canal near the old mill.")
        jobs = submit(env, [(notes / "one.txt", "normal"), (notes / "two.txt", "high")])
        deadline = time.monotonic() + 600
        while any(result(settings, j) is None for j in jobs):
            assert worker.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        stop(worker)
        log.close()
    assert [result(settings, j)["status"] for j in jobs] == ["completed"] * 2
    text = log_path.read_text()
    assert text.count("loaded all-MiniLM-L6-v2") == 1, text[-3000:]
    assert "ended Completed" in text
