"""Time limits that long stages check as they go.

A time limit enforced from outside (a Prefect task timeout) cannot interrupt a thread that is
busy in native code: it only fires once the work is over. So the long loops of the engine (one
PDF page, one segment of speech) call :func:`check`, which raises ``StageTimeout`` once the
deadline set around them has passed.

    >>> with deadline(600, stage="transcribe"):
    ...     check()            # no-op until 600 s have passed
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

from pipelines.errors import StageTimeout

_deadline: contextvars.ContextVar[tuple[float, float, str] | None] = contextvars.ContextVar(
    "inlet_deadline", default=None
)


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


def check() -> None:
    """Raise ``StageTimeout`` when the current deadline has passed."""
    current = _deadline.get()
    if current is not None and time.monotonic() > current[0]:
        raise StageTimeout(f"{current[2]} ran past its time limit of {current[1]:g} s", stage=current[2])
