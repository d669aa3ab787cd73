"""The lock that makes one local worker per home, and who holds it.

A file lock (``flock``) on ``<home>/prefect/worker.lock``, with the holder's pid written in the
file: the kernel drops the lock when the worker dies, however it dies, so a lock is never left
behind. Kept apart from :mod:`flows.worker` so that a process asking whether a worker runs
(``inlet status``, a submit) need not import the worker.
"""

from __future__ import annotations

import fcntl
import os

from pipelines.config import Settings


class WorkerLock:
    """The lock that makes one local worker per home; held for the worker's life."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.prefect_home / "worker.lock"
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


def worker_pid(settings: Settings) -> int | None:
    """The pid of the local worker serving this home, or None."""
    return WorkerLock(settings).holder()
