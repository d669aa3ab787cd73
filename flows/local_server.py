"""The local Prefect server of embedded mode: a real ``prefect server start`` on 127.0.0.1.

The local worker (``flows.worker``) starts it as a child process when it starts, with
``PREFECT_HOME`` under the inlet home (its SQLite database lives there, so the jobs of a home
outlive the server), on a free port, and stops it when it stops. Unlike Prefect's ephemeral
API it serves the UI and runs the scheduler, so the ``maintenance`` and inbox schedules fire
(``../shared`` ECOSYSTEM section 1.11). The worker publishes the address in
``Settings.local_server_file`` once the pool and the deployments exist; other processes read
it through ``Settings.prefect_api_url``.

The server runs through ``flows._prefect_server``, which begins the SQLite write transactions
IMMEDIATE, so concurrent writes (a burst of submits, several flows at once) wait for the lock
instead of being refused with 503 and retried seconds later by the client.

A new database takes Prefect 10-14 s to create (migrations); an existing one starts in 5-6 s.
The first database made for a Prefect version is kept as a template in the user's cache, and
a new home starts from a copy of it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

from pipelines.config import Settings
from pipelines.environment import user_cache

HEALTH_TIMEOUT_S = 180.0
"""How long a start may take (a new database on a loaded machine) before it is an error."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """True when the Prefect API at ``url`` (``…/api``) says it is healthy."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The server gets SIGTERM when the worker that started it dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _template() -> Path:
    return user_cache() / "prefect" / f"prefect-{version('prefect')}.db"


class LocalServer:
    """One running ``prefect server start`` for a home."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.prefect_home
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def database(self) -> Path:
        return self.home / "prefect.db"

    def start(self) -> str:
        """Start the server and wait until it answers; its API address (``…/api``)."""
        self.home.mkdir(parents=True, exist_ok=True)
        new = not self.database.exists()
        if new and _template().exists():
            new = False
            with contextlib.suppress(OSError):
                _copy_database(_template(), self.database)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/api"
        # the server's own settings (PREFECT_SERVER_*) pass through; a client's do not
        env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY")}
        env.update({
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
            "PREFECT_UI_ENABLED": "true",
            "PREFECT_SERVER_UI_API_URL": self.url,  # the UI's browser calls this server, not :4200
        })  # fmt: skip
        log = self.settings.home / "logs" / "prefect-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flows._prefect_server", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call, no locks taken
            )  # fmt: skip
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while not answers(self.url, timeout_s=1.0):
            if self.process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the local Prefect server stopped at start (log {log}):\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the local Prefect server did not answer in {HEALTH_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        if new:
            with contextlib.suppress(OSError, sqlite3.Error):
                _template().parent.mkdir(parents=True, exist_ok=True)
                _copy_database(self.database, _template())
        return self.url

    def publish(self) -> None:
        """Make the address known to the home's other processes."""
        assert self.process is not None
        tmp = self.settings.local_server_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": self.url, "pid": self.process.pid, "worker_pid": os.getpid()}))
        os.replace(tmp, self.settings.local_server_file)

    def unpublish(self) -> None:
        self.settings.local_server_file.unlink(missing_ok=True)

    def stop(self) -> None:
        self.unpublish()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database another process may be writing."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(tmp)) as dst:
        src.backup(dst)
    os.replace(tmp, target)
