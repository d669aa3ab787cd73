"""Circuit breakers around what every source depends on: the embedding model, the transcription
model and the store.

When a dependency fails ``breaker_threshold`` times in a row with an infrastructure class (its
model missing or broken, the store unavailable, the disk full), each further source would try
it again and wait through its retries. The breaker opens instead: calls fail at once with
:class:`~pipelines.errors.DependencyUnavailable`, naming the last real failure. After
``breaker_cooldown_s`` it is half-open: one call goes through as a probe while others still fail
at once; the probe's success closes the breaker, its failure opens it for another cool-down.

    closed --(threshold failures in a row)--> open --(cool-down)--> half-open --(probe ok)--> closed
                                               ^------------------(probe fails)------------'

Only failures of those classes count. Any other outcome (a source the model or the store
answered with an error of its own) shows the dependency works, and counts as a success; a
cancelled or timed-out call counts as neither.

A breaker lives in the process that uses it (the worker: models are loaded there, once), one
per home and dependency. Each change of state is also written to ``home/breakers.json``, so
that ``inlet stats`` and the Health page, in other processes, show it (:func:`states`).

    >>> with breaker(settings, "store").guard():  # doctest: +SKIP
    ...     store.write_sources(...)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipelines.config import Settings
from pipelines.errors import (
    DependencyUnavailable,
    DiskFull,
    InletError,
    ModelError,
    OcrUnavailable,
    StoreUnavailable,
    classify,
)

State = Literal["closed", "open", "half_open"]

DEPENDENCIES: dict[str, str] = {
    "embedder": "The embedding model",
    "transcriber": "The transcription model",
    "store": "The store",
}
"""The dependencies guarded, with what messages call them."""

_STAGES = {"embedder": "embed", "transcriber": "transcribe", "store": "write"}
_FIX = {"store": "Check that INLET_HOME is reachable, writable and not full."}
"""What to fix, when the last failure's hint is about retrying rather than the cause."""


def counts(error: InletError) -> bool:
    """Whether a failure of this class says the dependency itself is failing."""
    if isinstance(error, OcrUnavailable):  # a file's need, not the worker's dependency
        return False
    return isinstance(error, ModelError | StoreUnavailable | DiskFull)


@dataclass
class Breaker:
    """One dependency's breaker (see the module docstring)."""

    name: str
    home: Path
    threshold: int
    cooldown_s: float
    failures: int = 0
    opened_at: float | None = None
    """``time.monotonic()`` when it last opened; ``None`` while closed."""
    probing: bool = False
    last_error: InletError | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        return "half_open" if time.monotonic() - self.opened_at >= self.cooldown_s else "open"

    @contextlib.contextmanager
    def guard(self, *, proves: bool = True) -> Iterator[None]:
        """Run the block as a call of the dependency: refused at once while the breaker is open
        (or a probe is under way), counted when it ends.

        ``proves=False`` for a step that can succeed while the dependency still fails (opening
        the store, which a read-only or full disk allows): its failure counts, its success
        neither resets the count nor closes the breaker."""
        probe = self._admit()
        try:
            yield
        except Exception as exc:
            error = exc if isinstance(exc, InletError) else classify(exc, stage=_STAGES.get(self.name))
            self._ended(error, probe)
            raise
        except BaseException:  # cancelled: says nothing about the dependency
            self._ended(None, probe)
            raise
        self._ended(False if proves else None, probe)

    def _admit(self) -> bool:
        """True when this call is the half-open breaker's probe; raises when it may not run."""
        with self._lock:
            state = self.state
            if state == "closed":
                return False
            if state == "half_open" and not self.probing:
                self.probing = True
                return True
            raise self._refusal()

    def _ended(self, outcome: InletError | bool | None, probe: bool) -> None:
        """``outcome``: the classified failure, ``False`` for a success, ``None`` for neither."""
        with self._lock:
            if probe:
                self.probing = False
            if outcome is None:
                return
            if isinstance(outcome, InletError) and counts(outcome):
                self.failures += 1
                self.last_error = outcome
                if probe or self.failures >= self.threshold:
                    self.opened_at = time.monotonic()
                self._save()
            elif self.failures or self.opened_at is not None:
                self.failures, self.opened_at, self.last_error = 0, None, None
                self._save()

    def _refusal(self) -> DependencyUnavailable:
        what = DEPENDENCIES.get(self.name, self.name)
        last = self.last_error
        cause = f" (last: {last.code}: {last.message})" if last is not None else ""
        left = max(self.cooldown_s - (time.monotonic() - (self.opened_at or 0.0)), 0.0)
        when = f"in {left:.0f} s" if left > 0 else "when the probe under way ends"
        # the last failure's own hint says what to fix, unless it promises a retry that will not come
        fix = last.hint if last is not None and last.hint and not last.retryable else _FIX.get(self.name, "")
        hint = f"{fix} " if fix else ""
        return DependencyUnavailable(
            f"{what} failed {self.failures} times in a row{cause}; it is tried again {when}",
            stage=_STAGES.get(self.name),
            hint=hint + DependencyUnavailable.hint,
            detail=last.detail if last is not None else None,
        )

    def snapshot(self) -> dict[str, Any]:
        """The breaker as plain data (as ``breakers.json`` keeps it)."""
        last = self.last_error
        opened = None
        if self.opened_at is not None:
            opened = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=time.monotonic() - self.opened_at)
        return {
            "dependency": self.name,
            "state": self.state,
            "failures": self.failures,
            "opened_at": opened.isoformat() if opened else None,
            "cooldown_s": self.cooldown_s,
            "error_class": last.code if last else None,
            "message": last.message if last else None,
        }

    def _save(self) -> None:
        """Write every breaker of this home to ``breakers.json`` (best effort: a home that
        cannot be written must not hide the failure being counted)."""
        path = self.home / BREAKERS_FILE
        with _registry_lock:
            rows = {b.name: b.snapshot() for (home, _), b in _registry.items() if home == str(self.home)}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".breakers-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"pid": os.getpid(), "breakers": rows}, fh)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass


BREAKERS_FILE = "breakers.json"

_registry: dict[tuple[str, str], Breaker] = {}
_registry_lock = threading.Lock()


def breaker(settings: Settings, name: str) -> Breaker:
    """This process's breaker of dependency ``name`` (one of :data:`DEPENDENCIES`) for the home
    of ``settings``, with its threshold and cool-down."""
    if name not in DEPENDENCIES:
        raise ValueError(f"unknown dependency {name!r}; one of {', '.join(DEPENDENCIES)}")
    key = (str(settings.home), name)
    with _registry_lock:
        found = _registry.get(key)
        if found is None:
            found = _registry[key] = Breaker(name, settings.home, settings.breaker_threshold,
                                             settings.breaker_cooldown_s)  # fmt: skip
        found.threshold, found.cooldown_s = settings.breaker_threshold, settings.breaker_cooldown_s
        return found


def states(settings: Settings) -> list[dict[str, Any]]:
    """Every dependency's breaker as last written by the process that uses it (``closed`` with
    no failures when none was written): ``dependency, state, failures, opened_at, cooldown_s,
    error_class, message``. An ``open`` breaker whose cool-down has passed reads ``half_open``."""
    try:
        written = json.loads((settings.home / BREAKERS_FILE).read_text("utf-8")).get("breakers", {})
    except (OSError, ValueError, AttributeError):
        written = {}
    rows = []
    for name in DEPENDENCIES:
        row = written.get(name) if isinstance(written, dict) else None
        if not isinstance(row, dict):
            row = {"dependency": name, "state": "closed", "failures": 0, "opened_at": None,
                   "cooldown_s": settings.breaker_cooldown_s, "error_class": None, "message": None}  # fmt: skip
        if row.get("state") == "open" and row.get("opened_at"):
            opened = dt.datetime.fromisoformat(row["opened_at"])
            if (dt.datetime.now(dt.UTC) - opened).total_seconds() >= float(row.get("cooldown_s") or 0):
                row = {**row, "state": "half_open"}
        rows.append(row)
    return rows


def reset(settings: Settings | None = None) -> None:
    """Forget the breakers of one home (all homes without ``settings``) in this process."""
    with _registry_lock:
        for key in list(_registry):
            if settings is None or key[0] == str(settings.home):
                del _registry[key]
