"""Time limits and cancellation that long stages check as they go.

A time limit enforced from outside (a Prefect task timeout) cannot interrupt a thread that is
busy in native code: it only fires once the work is over. So the long loops of the engine (one
PDF page, one segment of speech, one slice of texts to embed) call :func:`check`, which raises
``StageTimeout`` once the deadline set around them has passed, and :class:`Interrupted` once
the job they work for has been cancelled. Each call also notes the time (:func:`last_check`): work
that checks is alive, however long it takes, which is how the worker's stuck-job watchdog tells
a long stage from a hung one.

    >>> with deadline(600, stage="transcribe"):
    ...     check()            # no-op until 600 s have passed
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator

from pipelines.errors import StageTimeout

_deadline: contextvars.ContextVar[tuple[float, float, str] | None] = contextvars.ContextVar(
    "inlet_deadline", default=None
)
_stop: contextvars.ContextVar[_StopCheck | None] = contextvars.ContextVar("inlet_stop", default=None)
_last_check = 0.0
"""``time.monotonic()`` of the latest :func:`check` in this process, from any thread."""


class Interrupted(Exception):  # noqa: N818 - not an error: the user asked for it
    """Raised by :func:`check` inside :func:`stop_when` once its condition holds."""


class _StopCheck:
    """Asks ``condition`` at most once per ``every_s`` (it may read a file)."""

    def __init__(self, condition: Callable[[], bool], every_s: float) -> None:
        self.condition, self.every_s = condition, every_s
        self.next_at = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self.next_at:
            return False
        self.next_at = now + self.every_s
        return bool(self.condition())


@contextlib.contextmanager
def deadline(seconds: float | None, *, stage: str = "a stage") -> Iterator[None]:
    """Within the block, :func:`check` raises ``StageTimeout`` after ``seconds`` (None: never)."""
    if seconds is None:
        yield
        return
    token = _deadline.set((time.monotonic() + seconds, seconds, stage))
    try:
        yield
    finally:
        _deadline.reset(token)


@contextlib.contextmanager
def stop_when(condition: Callable[[], bool] | None, *, every_s: float = 1.0) -> Iterator[None]:
    """Within the block, :func:`check` raises :class:`Interrupted` once ``condition()`` is true
    (asked at most once per ``every_s``; None: never)."""
    if condition is None:
        yield
        return
    token = _stop.set(_StopCheck(condition, every_s))
    try:
        yield
    finally:
        _stop.reset(token)


def check() -> None:
    """Raise ``StageTimeout`` when the current deadline has passed, ``Interrupted`` when the
    current stop condition holds."""
    global _last_check
    _last_check = time.monotonic()
    current = _deadline.get()
    if current is not None and _last_check > current[0]:
        raise StageTimeout(f"{current[2]} ran past its time limit of {current[1]:g} s", stage=current[2])
    stop = _stop.get()
    if stop is not None and stop.due():
        raise Interrupted("stopped on request")


def last_check() -> float:
    """When a long loop of this process last called :func:`check` (``time.monotonic()``; 0.0
    before the first call)."""
    return _last_check
