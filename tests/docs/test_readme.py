"""The README's two commands, as a new user runs them."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    block = README.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_the_settings_table_is_that_of_the_code() -> None:
    from pipelines.config import settings_table

    assert settings_table() in README, "run: .venv/bin/python scripts/readme_settings.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_first_command_ingests_the_samples_and_serves_the_dashboard(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "INLET_HOME": str(tmp_path / "home"), "INLET_PORT": str(port)}
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/demo.sh"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 900
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    health = r.read().decode()
                    break
            except OSError:
                time.sleep(1)
        text = log.read_text()
        assert health == "ok", f"dashboard did not answer; demo output:\n{text[-4000:]}"
        assert "5 ingested, 0 unchanged, 0 failed" in text, text[-4000:]
        assert "1. jfk_inaugural_excerpt.wav, 00:00.0–" in text, text[-4000:]
        assert (REPO / ".venv" / "bin" / "inlet").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
