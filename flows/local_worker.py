"""Starting and stopping a home's local worker process (``flows.worker``), as a submitter does
when no worker serves the home (embedded mode): one started per home at a time, in a session of
its own (it outlives its submitter), its output appended to ``<home>/logs/worker.log``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from flows.worker_lock import WorkerLock, worker_pid
from pipelines.config import Settings

WORKER_LOG_BYTES = 10 * 2**20
WORKER_LOGS_KEPT = 3


def rotate_log(path: Path, max_bytes: int = WORKER_LOG_BYTES, keep: int = WORKER_LOGS_KEPT) -> None:
    """Before a new worker appends to ``path``: once it is over ``max_bytes``, it becomes
    ``path.1`` (older ones ``.2`` … ``.keep``; the oldest is dropped)."""
    try:
        if path.stat().st_size <= max_bytes:
            return
    except FileNotFoundError:
        return
    for n in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{n + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))


_STARTED: dict[Path, tuple[float, int]] = {}
"""Local workers this process started lately, by home: not started twice while one starts."""
_STARTING = threading.Lock()


def ensure_worker(settings: Settings) -> int | None:
    """Start a local worker for this home unless one runs; the pid of the one started."""
    with _STARTING:  # the threads of one process (the HTTP API) start one worker between them
        return _ensure_worker(settings)


def _ensure_worker(settings: Settings) -> int | None:
    if WorkerLock(settings).held():
        return None
    recent = _STARTED.get(settings.home)
    if recent is not None and time.monotonic() - recent[0] < 5 and _alive(recent[1]):
        return None  # it is still importing: it takes the lock in a moment
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "INLET_MODE")}
    env["INLET_HOME"] = str(settings.home)
    rotate_log(logs / "worker.log")
    with open(logs / "worker.log", "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.worker"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            cwd=str(Path(__file__).resolve().parents[1]),
            start_new_session=True,  # survives the submitter: a closed notebook or tab
        )
    _STARTED[settings.home] = (time.monotonic(), process.pid)
    # Reap it when it stops, so a long-lived submitter (the dashboard) keeps no zombie.
    threading.Thread(target=process.wait, name="inlet-worker-reaper", daemon=True).start()
    return process.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def stop_worker(settings: Settings, timeout_s: float = 30.0) -> int | None:
    """Stop the local worker of this home (SIGTERM: it ends like an idle one, with its server,
    and a run it was executing runs again with the next worker); its pid, or None."""
    pid = worker_pid(settings)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while WorkerLock(settings).held() and time.monotonic() < deadline:
        time.sleep(0.1)
    return pid
