"""The lock that makes one local worker per home, who holds it, and how a submitter wakes it.

A file lock (``flock``) on ``<home>/prefect/worker.lock``, with the holder's pid written in the
file: the kernel drops the lock when the worker dies, however it dies, so a lock is never left
behind. Kept apart from :mod:`flows.worker` so that a process asking whether a worker runs
(``inlet status``, a submit) need not import the worker.

An idle local worker asks its server for runs only every few seconds: every question costs the
server CPU (four a second kept an idle server at an eighth of a core). A submitter that created a
run adds a byte to ``<home>/prefect/worker.wake`` (:func:`wake`); the worker looks at that
file's size four times a second (:func:`wake_mark`, a ``stat``, no server) and asks the server
at once when it grew.
"""

from __future__ import annotations

import fcntl
import os
import threading

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


WAKE_TRUNCATE_BYTES = 65536
"""The wake file is emptied by the worker once it is this long (a byte per job)."""


def _wake_path(settings: Settings) -> str:
    return str(settings.prefect_home / "worker.wake")


WOKEN_HERE = threading.Event()
"""Set by :func:`wake` in the worker's own process (a job it took over its socket): its loop
waits on it between looks, so such a job starts at once, not at the next look."""


def wake(settings: Settings) -> None:
    """Tell the home's local worker that a run waits (call it after the run was created)."""
    try:
        fd = os.open(_wake_path(settings), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:  # the worker asks its server on its own within seconds
        return
    try:
        os.write(fd, b".")
    finally:
        os.close(fd)
        WOKEN_HERE.set()  # after the write: the loop it wakes sees the new mark


def wake_mark(settings: Settings) -> tuple[int, int]:
    """What the worker compares to see a new :func:`wake`: the wake file's size and time. A long
    file is emptied here: a wake lost to that is one the worker is about to act on anyway."""
    try:
        stat = os.stat(_wake_path(settings))
    except FileNotFoundError:
        return (0, 0)
    if stat.st_size >= WAKE_TRUNCATE_BYTES:
        os.truncate(_wake_path(settings), 0)
    return (stat.st_size, stat.st_mtime_ns)
