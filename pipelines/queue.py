"""The local job queue of embedded mode: submitted jobs wait as files under ``home/queue``.

Any process (CLI, notebook, dashboard) submits a job by writing one JSON file; one local worker
process at a time (held by a file lock) claims the pending job of highest priority, oldest
first, by renaming its file, which is atomic, so no job runs twice. Folders:

- ``pending/``: ``{rank}-{time}-{job_id}.json``; the name sorts high before normal before low.
- ``running/``: ``{job_id}.json`` and ``{job_id}.pid`` (the worker that runs it).
- ``done/``: ``{job_id}.json``, the job's summary, written by the flow when the job ends (in
  server mode too), so that a waiting caller can print it.
- ``cancel/``: ``{job_id}``, a request to stop a running job, checked by the flow between steps.

A job whose worker died (SIGKILL, power cut) stays in ``running/`` with a dead pid; the next
worker puts it back in ``pending/`` under its first name, and running it again finishes it
(writes are idempotent, DESIGN decision 1).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipelines.config import Settings

PRIORITIES = {"high": 0, "normal": 1, "low": 2}
"""Priority names and their rank: a lower rank runs first."""


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def check_priority(priority: str) -> str:
    """``priority`` if it is one of ``high``, ``normal``, ``low``; a clear ValueError otherwise."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
    return priority


@dataclass
class JobRequest:
    """One submitted job: what to ingest, where, how urgently, with which settings."""

    paths: list[str]
    collection: str
    priority: str = "normal"
    job_id: str = field(default_factory=new_job_id)
    submitted_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    settings: dict[str, Any] = field(default_factory=dict)
    """The submitter's settings (JSON form), so that the worker runs the job as it was asked."""
    retry_of: str | None = None

    @property
    def queue_name(self) -> str:
        stamp = self.submitted_at.replace(":", "").replace("-", "").replace("+", "")
        return f"{PRIORITIES[self.priority]}-{stamp}-{self.job_id}.json"

    @classmethod
    def from_json(cls, text: str) -> JobRequest:
        return cls(**json.loads(text))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


class JobQueue:
    """The queue folders of one home."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.home / "queue"
        for name in ("pending", "running", "done", "cancel"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def _dir(self, name: str) -> Path:
        return self.root / name

    # --- submitting and claiming ---------------------------------------------------------
    def submit(self, request: JobRequest) -> str:
        check_priority(request.priority)
        _write_atomic(self._dir("pending") / request.queue_name, json.dumps(asdict(request)))
        return request.job_id

    def _requests(self, folder: str) -> list[JobRequest]:
        jobs = []
        for path in sorted(self._dir(folder).glob("*.json")):
            with contextlib.suppress(OSError, ValueError):  # claimed or finished meanwhile
                jobs.append(JobRequest.from_json(path.read_text()))
        return jobs

    def pending(self) -> list[JobRequest]:
        """Waiting jobs in the order they will run."""
        return self._requests("pending")

    def running(self) -> list[JobRequest]:
        """Jobs a worker has claimed and not finished."""
        return self._requests("running")

    def has_work(self) -> bool:
        """True while a job waits or runs."""
        return any(self._dir("pending").glob("*.json")) or any(self._dir("running").glob("*.json"))

    def claim(self, pid: int | None = None) -> JobRequest | None:
        """Take the first waiting job (highest priority, oldest); None when nothing waits."""
        for path in sorted(self._dir("pending").glob("*.json")):
            job_id = path.stem.rsplit("-", 1)[-1]
            target = self._dir("running") / f"{job_id}.json"
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue  # another process took or cancelled it
            (self._dir("running") / f"{job_id}.pid").write_text(str(pid or os.getpid()))
            return JobRequest.from_json(target.read_text())
        return None

    def recover(self) -> list[str]:
        """Put back in the queue the running jobs whose worker is dead; their ids."""
        recovered = []
        for path in self._dir("running").glob("*.json"):
            pid_file = path.with_suffix(".pid")
            try:
                pid = int(pid_file.read_text())
            except (OSError, ValueError):
                pid = 0
            if pid and pid_alive(pid):
                continue
            try:
                request = JobRequest.from_json(path.read_text())
            except (OSError, ValueError):
                continue
            os.replace(path, self._dir("pending") / request.queue_name)
            pid_file.unlink(missing_ok=True)
            recovered.append(request.job_id)
        return recovered

    # --- ending ------------------------------------------------------------------------------
    def finish(self, job_id: str, summary: dict[str, Any]) -> None:
        """Record a job's summary and clear its running and cancel marks."""
        _write_atomic(self._dir("done") / f"{job_id}.json", json.dumps(summary, default=str))
        for leftover in (
            self._dir("running") / f"{job_id}.json",
            self._dir("running") / f"{job_id}.pid",
            self._dir("cancel") / job_id,
        ):
            leftover.unlink(missing_ok=True)

    def result(self, job_id: str) -> dict[str, Any] | None:
        """The summary of a finished job, or None while it waits or runs."""
        try:
            summary: dict[str, Any] = json.loads((self._dir("done") / f"{job_id}.json").read_text())
        except (OSError, ValueError):
            return None
        return summary

    def prune_results(self, older_than_s: float) -> int:
        """Drop the summaries of jobs that finished more than ``older_than_s`` seconds ago; how many."""
        horizon = time.time() - older_than_s
        removed = 0
        for done in self._dir("done").glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                if done.stat().st_mtime < horizon:
                    done.unlink()
                    removed += 1
        return removed

    def state(self, job_id: str) -> str | None:
        """``pending``, ``running``, ``done``, or None for a job this queue does not know."""
        if (self._dir("done") / f"{job_id}.json").exists():
            return "done"
        if (self._dir("running") / f"{job_id}.json").exists():
            return "running"
        if any(self._dir("pending").glob(f"*-{job_id}.json")):
            return "pending"
        return None

    # --- cancelling --------------------------------------------------------------------------
    def dequeue(self, job_id: str) -> JobRequest | None:
        """Remove a waiting job from the queue; the request, or None if it was not waiting."""
        for path in self._dir("pending").glob(f"*-{job_id}.json"):
            try:
                request = JobRequest.from_json(path.read_text())
                path.unlink()
            except (FileNotFoundError, ValueError):
                continue
            return request
        return None

    def request_cancel(self, job_id: str) -> None:
        """Ask the flow running ``job_id`` (here or on a Prefect worker) to stop."""
        (self._dir("cancel") / job_id).touch()

    def cancel_requested(self, job_id: str) -> bool:
        return (self._dir("cancel") / job_id).exists()


class WorkerLock:
    """The lock that makes one local worker per home; held for the worker's life."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.home / "queue" / "worker.lock"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another worker holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held(self) -> bool:
        """True when some worker holds the lock now."""
        if self._fd is not None:
            return True
        if self.acquire():
            self.release()
            return False
        return True

    def holder(self) -> int | None:
        """The pid of the worker holding the lock, if any."""
        if not self.held():
            return None
        try:
            return int(self.path.read_text() or 0) or None
        except (OSError, ValueError):
            return None
