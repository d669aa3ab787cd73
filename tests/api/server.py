"""A real ``inlet serve`` in a subprocess on a free loopback port, with its own home; and a
reader of Server-Sent Events. Shared by the API tests and ``bench/api_latency.py``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
INLET = str(Path(sys.executable).parent / "inlet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a server: this one without its INLET_* settings (the exported
    models' folder kept), plus ``home`` and ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_") or k == "INLET_MODELS_DIR"}
    env.setdefault("PYTHONPATH", str(REPO))
    return env | {"INLET_HOME": str(home), "INLET_WORKER_IDLE_S": "30"} | settings


@contextmanager
def serving(home: Path, *args: str, **settings: str) -> Iterator[str]:
    """Run ``inlet serve`` until the block ends; its base URL. ``settings`` are INLET_* variables."""
    port = free_port()
    home.parent.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [INLET, "serve", "--port", str(port), *args],
            env=server_env(home, **settings), stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"inlet serve exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"inlet serve did not answer in 120 s:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def read_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The events of a ``text/event-stream`` response: ``{"id", "event", "data"}`` with ``data``
    parsed as JSON (a ``ValueError`` if it is not)."""
    fields: dict[str, Any] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield {"id": fields.get("id"), "event": fields.get("event", "message"),
                       "data": json.loads("\n".join(data))}  # fmt: skip
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value


def wait_for_job(client: httpx.Client, job_id: str, timeout_s: float = 600) -> dict[str, Any]:
    """Poll ``GET /v1/jobs/{id}`` until the job has ended; its last state."""
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").raise_for_status().json()
        if job["finished"]:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['status']} after {timeout_s} s")
        time.sleep(1)
