"""Parse an untrusted file where it cannot take the worker down: a child process with limits.

A decompression bomb or a file of a million nested objects can make a parser take gigabytes or
loop in native code, where neither a Python exception nor a thread's deadline reaches it. So
:func:`run_isolated` runs one parse in a child process whose address space is capped
(``RLIMIT_AS``) and that is killed when the stage's deadline passes or its job is cancelled
(the parent waits by slices of ``POLL_S`` and asks :func:`pipelines.deadline.check`). The
child's result, or its error already classified, comes back through a pipe; a child that dies
(killed by the kernel, a crash in native code) becomes a classified error too.

Children are forked from a ``forkserver`` that has imported the parser once, so a child costs
a fork and the pickling of its result, not a Python start-up (``bench/hostile.py`` reports
the cost per file). The forkserver process is started on first use and lives as long as the
process that uses it.

    >>> run_isolated(extract_pdf, source, settings, memory_mb=2048, what="PDF", crashed=DamagedPdf)  # doctest: +SKIP
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from pipelines.deadline import check
from pipelines.errors import InletError, InternalError, OutOfMemory, StageTimeout, classify

T = TypeVar("T")

POLL_S = 0.1
"""How often the parent asks for its deadline and its job's cancellation while a child works."""

_lock = threading.Lock()
_contexts: dict[str, Any] = {}


def _context(module: str) -> Any:
    """The forkserver context, started with ``module`` imported (once per process)."""
    with _lock:
        if "forkserver" not in _contexts:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([module])
            _contexts["forkserver"] = context
        return _contexts["forkserver"]


def run_isolated(
    fn: Callable[..., T],
    *args: Any,
    memory_mb: int,
    what: str,
    crashed: type[InletError],
    timeout_s: float | None = None,
) -> T:
    """``fn(*args)`` in a child process limited to ``memory_mb`` of address space.

    Returns what ``fn`` returned, or raises the error it raised (classified in the child).
    Raises ``OutOfMemory`` when the child passed its memory limit, ``StageTimeout`` when
    ``timeout_s`` (or the deadline set around the call) passed, ``Interrupted`` when the job
    was cancelled (the child is killed in each case), and ``crashed`` (a class of the kind
    being parsed, such as ``DamagedPdf``) when the child died some other way. ``what`` names
    the file's kind in messages ("PDF").
    """
    context = _context(fn.__module__)
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(fn, args, memory_mb, sender), daemon=True)
    child.start()
    sender.close()
    ends = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while not receiver.poll(POLL_S):  # a result, or the end of the pipe when the child died
            check()
            if ends is not None and time.monotonic() > ends:
                raise StageTimeout(
                    f"Parsing the {what} ran past its time limit of {timeout_s:g} s; it was stopped"
                )
        try:
            ok, payload = receiver.recv()
        except EOFError:
            ok, payload = False, None
    except BaseException:
        child.kill()
        raise
    finally:
        receiver.close()
        child.join()
    if ok:
        return payload
    if isinstance(payload, OutOfMemory) or (payload is None and child.exitcode in _OOM_SIGNALS):
        raise OutOfMemory(
            f"Parsing the {what} needed more than the {memory_mb} MB of memory allowed",
            hint="Raise INLET_EXTRACT_MEMORY_MB if the file is genuine, or split it.",
            detail=getattr(payload, "detail", None),
        )
    if payload is None:
        name = _signal_name(child.exitcode)
        raise crashed(f"The {what} parser crashed on this file ({name})")
    raise payload


_OOM_SIGNALS = {-signal.SIGKILL, -signal.SIGABRT}
"""A child killed by the kernel (its OOM killer), or aborted by a native allocation failure."""


def _signal_name(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"


def _child(fn: Callable[..., Any], args: tuple[Any, ...], memory_mb: int, sender: Connection) -> None:
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result: tuple[bool, Any] = (True, fn(*args))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent, classified
        result = (False, classify(exc))
    try:
        sender.send(result)
    except Exception as exc:  # noqa: BLE001 - a result too large to send, an error that will not pickle
        sender.send((False, _unsendable(exc)))
    finally:
        sender.close()


def _unsendable(exc: BaseException) -> InletError:
    if isinstance(exc, MemoryError):
        return OutOfMemory("Ran out of memory while sending the result")
    return InternalError(f"The result could not be sent back: {type(exc).__name__}: {exc}")
