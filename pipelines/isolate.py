"""Parse an untrusted file where it cannot take the worker down: a child process with limits.

A decompression bomb or a file of a million nested objects can make a parser take gigabytes or
loop in native code, where neither a Python exception nor a thread's deadline reaches it. So
:func:`run_isolated` runs one parse in a child process whose address space is capped
(``RLIMIT_AS``) and that is killed when the stage's deadline passes or its job is cancelled
(the parent waits by slices of ``POLL_S`` and asks :func:`pipelines.deadline.check`). The
child's result, or its error already classified, comes back through a pipe; a child that dies
(killed by the kernel, a crash in native code) becomes a classified error too.

Children are forked from a ``forkserver`` that has imported the parser, and each serves many
parses in turn (``CHILD_PARSES``), so a parse costs the pickling of its input and result, not a
process start (``bench/hostile.py --cost`` measures it). A child that ran out of memory, crashed
or was stopped is replaced. The forkserver and the children live as long as the process that
uses them.

The child also reports the peak resident memory of each parse (:mod:`pipelines.memory`):
:func:`run_measured` returns it beside the result.

    >>> run_isolated(extract_pdf, source, settings, memory_mb=2048, what="PDF", crashed=DamagedPdf)  # doctest: +SKIP

:func:`stream_isolated` does the same for a generator, one item at a time on request: the sound
of a recording is decoded there, block by block, while the worker transcribes.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any, TypeVar, cast

from pipelines.deadline import check
from pipelines.errors import InletError, InternalError, OutOfMemory, StageTimeout, classify
from pipelines.memory import peak_mb, reset_peak

T = TypeVar("T")

POLL_S = 0.1
"""How often the parent asks for its deadline and its job's cancellation while a child works."""

_lock = threading.Lock()
_contexts: dict[str, Any] = {}


def _context(module: str) -> Any:
    """The forkserver context, started with ``module`` imported (once per process).

    The server also imports this process's main module (as multiprocessing does by default),
    and by name when it was run with ``-m`` (the worker): otherwise every child would import it
    again before it starts, which costs more than the parse of a small PDF.
    """
    with _lock:
        if "forkserver" not in _contexts:
            context = multiprocessing.get_context("forkserver")
            main = getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None)
            by_name = [main] if main and not main.endswith("__main__") else []
            context.set_forkserver_preload(["__main__", *by_name, module])
            _contexts["forkserver"] = context
        return _contexts["forkserver"]


class _Child:
    """A child process that runs parses one after the other, under its memory limit."""

    def __init__(self, context: Any, memory_mb: int) -> None:
        self.memory_mb, self.served = memory_mb, 0
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, memory_mb, os.getpid()), daemon=True)
        self.process.start()
        theirs.close()

    def stop(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


_idle: list[_Child] = []
"""Children waiting for their next parse (one per concurrent caller at most)."""


def _take(module: str, memory_mb: int) -> _Child:
    context = _context(module)
    with _lock:
        for child in _idle:
            if child.memory_mb == memory_mb and child.process.is_alive():
                _idle.remove(child)
                return child
    return _Child(context, memory_mb)


def _give_back(child: _Child) -> None:
    with _lock:
        _idle.append(child)


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

    A child serves ``CHILD_PARSES`` parses, then is replaced; one that ran out of memory,
    crashed or was stopped is replaced at once.
    """
    result, _ = run_measured(fn, *args, memory_mb=memory_mb, what=what, crashed=crashed, timeout_s=timeout_s)
    return result


def run_measured(
    fn: Callable[..., T],
    *args: Any,
    memory_mb: int,
    what: str,
    crashed: type[InletError],
    timeout_s: float | None = None,
) -> tuple[T, float]:
    """:func:`run_isolated`, returning also the peak resident memory (MB) the child reached
    during this parse."""
    child = _take(fn.__module__, memory_mb)
    ends = None if timeout_s is None else time.monotonic() + timeout_s
    ok, payload, peak, reusable = False, None, 0.0, False
    try:
        child.conn.send((fn, args))
        answer = _receive(child, ends, timeout_s, what)
        ok, payload = answer[0], answer[1]
        peak = answer[2] if len(answer) > 2 else 0.0
        reusable = payload is not None and not isinstance(payload, OutOfMemory)
    finally:
        _release(child, reusable)
    if ok:
        return cast(T, payload), peak  # what fn returned, through the pipe
    raise _failure(child, payload, memory_mb, what, crashed)


def stream_isolated(
    fn: Callable[..., Iterator[T]], *args: Any, memory_mb: int, what: str, crashed: type[InletError]
) -> Iterator[T]:
    """The items of the generator ``fn(*args)``, made one at a time in a child process limited
    to ``memory_mb`` of address space (as :func:`run_isolated`, with the same errors).

    The child makes the next item only when this generator is asked for it, so it never runs
    ahead of the caller (a decoder feeding a transcriber holds one block, not the whole file),
    and the caller's deadline and stop request are checked while it waits. Closing this
    generator before the end stops the child.
    """
    child = _take(fn.__module__, memory_mb)
    released = False
    try:
        child.conn.send((_STREAM, fn, args))
        while True:
            ok, payload = False, None
            try:
                child.conn.send(_NEXT)
            except OSError:  # the child died after its last item
                pass
            else:
                answer = _receive(child, None, None, what)
                ok, payload = answer[0], answer[1]
            if not ok:
                _release(child, False)  # stopped first: its exit status tells what happened
                released = True
                raise _failure(child, payload, memory_mb, what, crashed)
            finished, item = cast(tuple[bool, T], payload)
            if finished:
                _release(child, True)
                released = True
                return
            yield item
    finally:
        if not released:  # closed early, or stopped by the deadline or a cancel
            _release(child, False)


def _receive(child: _Child, ends: float | None, timeout_s: float | None, what: str) -> tuple[Any, ...]:
    """The child's next answer, ``(ok, payload)`` (a parse adds its peak memory); ``(False,
    None)`` when it died. Asks the
    deadline and the stop request while it waits, and stops at ``ends``."""
    while not child.conn.poll(POLL_S):  # an answer, or the end of the pipe when the child died
        check()
        if ends is not None and time.monotonic() > ends:
            raise StageTimeout(
                f"Parsing the {what} ran past its time limit of {timeout_s:g} s; it was stopped"
            )
    try:
        answer: tuple[Any, ...] = child.conn.recv()
    except (EOFError, ConnectionResetError):  # it died: out of memory, killed, crashed
        return False, None
    return answer


def _release(child: _Child, reusable: bool) -> None:
    """Give ``child`` back for the next parse, or stop it (after a failure, or its last parse)."""
    child.served += 1
    if reusable and child.served < CHILD_PARSES:
        _give_back(child)
    else:
        child.stop()


def _failure(child: _Child, payload: Any, memory_mb: int, what: str, crashed: type[InletError]) -> InletError:
    """The error to raise for a parse that failed with ``payload`` (its classified error, or
    ``None`` when the child died; the child is stopped already)."""
    if isinstance(payload, OutOfMemory) or (payload is None and child.process.exitcode in _OOM_SIGNALS):
        return OutOfMemory(
            f"Parsing the {what} needed more than the {memory_mb} MB of memory allowed",
            hint="Raise INLET_EXTRACT_MEMORY_MB if the file is genuine, or split it.",
            detail=getattr(payload, "detail", None),
        )
    if payload is None:
        name = _signal_name(child.process.exitcode)
        return crashed(f"The {what} parser crashed on this file ({name})")
    return cast(InletError, payload)


CHILD_PARSES = 200
"""Parses a child serves before it is replaced (what a parser caches or leaks goes with it)."""

_OOM_SIGNALS = {-signal.SIGKILL, -signal.SIGABRT}
"""A child killed by the kernel (its OOM killer), or aborted by a native allocation failure."""


def _signal_name(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"


def _serve(conn: Connection, memory_mb: int, parent: int) -> None:
    """The child's loop: parse what comes, send back the result or the classified error."""
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent is gone, or stopped this child
            return
        except BaseException as exc:  # noqa: BLE001 - the call did not unpickle: its module will not
            # import under the limit (a child forked before that module was loaded), for one
            conn.send((False, classify(exc), 0.0))
            return
        if message[0] == _STREAM:
            if not _serve_stream(conn, message[1], message[2]):
                return
            continue
        fn, args = message
        reset_peak()  # the peak of this parse, not of the ones before it
        value: Any
        try:
            ok, value = True, fn(*args)
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent, classified
            ok, value = False, classify(exc)
        peak = peak_mb()
        try:
            conn.send((ok, value, peak))
        except Exception as exc:  # noqa: BLE001 - a result too large to send, an error that will not pickle
            conn.send((False, _unsendable(exc), peak))


_STREAM = "stream"
_NEXT = "next"


def _serve_stream(conn: Connection, fn: Callable[..., Iterator[Any]], args: tuple[Any, ...]) -> bool:
    """Send the items of ``fn(*args)`` one per request: ``(True, (False, item))``, then
    ``(True, (True, None))`` at the end, or ``(False, error)``. False when the parent is gone."""
    failed: BaseException | None = None
    items: Iterator[Any] = iter(())
    try:
        items = iter(fn(*args))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent, classified
        failed = exc
    while True:
        try:
            conn.recv()  # the parent asks for the next item
        except EOFError:
            return False
        if failed is not None:
            conn.send((False, classify(failed)))
            return True
        try:
            conn.send((True, (False, next(items))))
        except StopIteration:
            conn.send((True, (True, None)))
            return True
        except BaseException as exc:  # noqa: BLE001 - a failed item ends the stream, classified
            try:
                conn.send((False, classify(exc)))
            except Exception as unsent:  # noqa: BLE001 - an error that will not pickle
                conn.send((False, _unsendable(unsent)))
            return True


def _watch(parent: int) -> None:
    """End this child once the process it parses for is gone: a parse stuck in native code must
    not outlive a worker that was killed (the forkserver, this child's parent, lives on while
    any child does)."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # alive, under another user
            pass


def _unsendable(exc: BaseException) -> InletError:
    if isinstance(exc, MemoryError):
        return OutOfMemory("Ran out of memory while sending the result")
    return InternalError(f"The result could not be sent back: {type(exc).__name__}: {exc}")
