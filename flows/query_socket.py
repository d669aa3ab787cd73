"""The local worker answers the ``inlet`` command's searches on a Unix socket in the home.

A new ``inlet search`` process that searched by itself would spend 2-3 s importing the store
(LanceDB), the frames (polars) and loading the query encoder before its first hit. The local
worker of embedded mode is long-lived and has them loaded, so it answers instead: the command
sends the search to ``Settings.query_socket_file`` and prints the rows it gets back, and
searches by itself only when no worker answers (no socket, a socket its dead worker left, no
answer in time). Both ways run :func:`pipelines.searches.ask` with the command's own settings,
so the hits are the same and the search is recorded once, by the process that ran it.

It answers ``inlet jobs`` and ``inlet status`` the same way (:func:`report_in_worker`,
:data:`REPORTS`): the analytics reader (DuckDB, polars) is loaded in the worker already. And it
takes submitted jobs (:func:`submit_in_worker`): a submit needs Prefect's client, whose import
alone takes 1.5-3 s, and the worker has it loaded and its server's address at hand. And it
follows a job for its submitter (:func:`follow_in_worker`, ``flows.follow``), so that
``inlet ingest`` waits for its job without loading the analytics reader: a small file through
the command went from 5.5 s to 1.4 s on a warm worker of a slow 2-core machine.

The protocol: one request per connection, a line of JSON each way. A request says who asks
either by its settings (``"settings"``: a library call, with its overrides) or, from the
``inlet`` command, by its environment (``"asker": {"environment": {...}, "cwd": ...}``,
:class:`Asker`), from which the worker makes the same settings: the command then needs no
pydantic, whose import took 0.4 of the 0.6 s a search through the worker took.

    request  {"search": {"query": ..., "mode": ..., "collection": ..., "kind": [...], "source": ...,
              "file": ..., "since": ..., "until": ..., "language": ..., "category": ...,
              "keyword": ..., "limit": ...}, "settings": {the asker's settings}}
    reply    {"hits": [{column: value, ...}, ...]}   or   {"error": "what went wrong"}
    request  {"report": {"name": "jobs" | "job_sources" | "status", "args": {...}}, "settings": {...}}
    reply    {"report": [{column: value, ...}, ...] or {...}}   or   {"error": ...}
    request  {"submit": {the fields of a pipelines.queue.JobRequest}, "settings": {...}}
    reply    {"job_id": "..."}   or   {"error": ...}
    request  {"follow": {"job_id": ..., "progress": true, "timeout_s": null}, "settings": {...}}
    replies  one line per event of ``flows.follow.follow`` (the last one {"result": {...}})
             or   {"error": ...}

A hit's values are JSON's (a time would arrive as ISO text, as ``--json`` prints it); an
error reply, like no answer, leaves the search to the asker, so an error reaches the terminal
exactly as a search in the command's own process raises it.

The socket is the worker's (``flows.worker``, through ``flows.query_server``) for its life:
created when it starts, readable and writable by its user alone (0600), removed when it stops.
Each connection is answered on a thread of its own, so a search never holds up the worker's job
polling, and a bad request gets an error reply, never an exception in the worker.

This module is the asking side, what a fresh ``inlet`` process loads: importing it imports
neither Prefect nor the store. The worker's side is ``flows.query_server``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines import environment
from pipelines.queue import JobRequest

if TYPE_CHECKING:
    from pipelines.config import Settings

log = logging.getLogger("inlet.worker")

CONNECT_TIMEOUT_S = 1.0
"""How long the asker waits for the worker to take the connection."""
ANSWER_TIMEOUT_S = 20.0
"""How long the asker waits for the hits (a busy worker on a loaded machine, a first search
that loads the query encoder) before it searches by itself."""
MAX_REQUEST_BYTES = 1 << 20
SEARCH_FIELDS = frozenset(
    {"query", "mode", "collection", "kind", "source", "file", "since", "until", "language",
     "category", "keyword", "limit"}
)  # fmt: skip
"""The parameters of a search request: those of ``inlet.search`` but ``settings``."""
REPORTS = {
    "jobs": frozenset({"status", "collection", "job_id", "limit"}),
    "job_sources": frozenset({"job_id"}),
    "status": frozenset(),
}
"""What else the worker answers (``inlet jobs``, ``inlet jobs JOB``, ``inlet status``) and the
parameters of each: the reports a person at a terminal asks for between jobs."""


# --- the asking side -------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Asker:
    """An ``inlet`` command as the worker needs to know it: the variables of its environment
    that settings read (:func:`pipelines.environment.snapshot`) and its working folder. The
    worker makes the command's settings from them (:func:`pipelines.config.settings_for`), so a
    command the worker answers never imports pydantic, 0.3-0.4 s of its start. Every function
    here takes it in place of the settings; a bad setting makes the worker's answer an error,
    and the command then does the work by itself and shows that error as it would."""

    environment: dict[str, str]
    cwd: str

    @classmethod
    def here(cls) -> Asker:
        """This process."""
        return cls(environment.snapshot(), os.getcwd())

    @property
    def embedded(self) -> bool:
        return environment.active_mode(self.environment) == "embedded"

    @property
    def socket(self) -> Path:
        return environment.query_socket(environment.home(self.environment))


def _whom(who: Settings | Asker) -> tuple[Path | None, dict[str, Any]]:
    """The socket of ``who``'s home's local worker (``None`` in server mode, where no worker has
    one) and what a request says of who asks."""
    if isinstance(who, Asker):
        about = {"asker": {"environment": who.environment, "cwd": who.cwd}}
        return (who.socket if who.embedded else None), about
    embedded = who.active_mode == "embedded"
    return (who.query_socket_file if embedded else None), {"settings": _portable(who)}


def search_in_worker(settings: Settings | Asker, **search: Any) -> list[dict[str, Any]] | None:
    """The hits of a search (the keyword arguments of ``inlet.search`` but ``settings``) as rows,
    answered by this home's local worker; ``None`` when no worker answers, and the caller
    searches by itself (the worker's error replies, too, are left to the caller to raise)."""
    unknown = set(search) - SEARCH_FIELDS
    if unknown:
        raise TypeError(f"not a search parameter: {', '.join(sorted(unknown))}")
    hits = _ask(settings, {"search": search}, "hits")
    return hits if isinstance(hits, list) else None


def report_in_worker(settings: Settings | Asker, name: str, **args: Any) -> Any:
    """A report of :data:`REPORTS` (``jobs`` and ``job_sources`` as rows, ``status`` as a dict),
    made by this home's local worker from the asker's settings; ``None`` when no worker answers
    (the caller makes it by itself). Times come back as ``datetime`` values, as made here."""
    if set(args) - REPORTS.get(name, frozenset({"?"})):
        raise TypeError(f"not a report or not its parameters: {name}({', '.join(sorted(args))})")
    found = _ask(settings, {"report": {"name": name, "args": args}}, "report")
    if isinstance(found, list):
        return [_with_times(row) for row in found if isinstance(row, dict)]
    return found


def submit_in_worker(settings: Settings | Asker, request: JobRequest) -> str | None:
    """The job id of ``request``, submitted by this home's local worker (``flows.submit.submit``
    in its process, with the asker's settings); ``None`` when no worker answers or it could
    not submit, and the caller submits by itself."""
    found = _ask(settings, {"submit": dataclasses.asdict(request)}, "job_id")
    return found if isinstance(found, str) else None


class NoAnswer(Exception):
    """The worker did not answer, stopped answering, or could not do what was asked."""


def follow_in_worker(
    settings: Settings | Asker, job_id: str, *, progress: bool = True, timeout_s: float | None = None
) -> Iterator[dict[str, Any]]:
    """The events of a job (``flows.follow.follow``) as this home's local worker follows it, the
    last one its ``result``. Raises :class:`NoAnswer` when no worker answers or it stops before
    the job's end (died, stepped down): the caller follows the job by itself from there."""
    path, about = _whom(settings)
    if path is None:
        raise NoAnswer("a worker of server mode has no socket")
    line = json.dumps(
        {"follow": {"job_id": job_id, "progress": progress, "timeout_s": timeout_s}, **about}, default=str
    )
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:
        raise NoAnswer(str(exc)) from exc
    with conn:
        try:
            conn.settimeout(CONNECT_TIMEOUT_S)
            conn.connect(str(path))
            conn.settimeout(ANSWER_TIMEOUT_S)  # the worker sends an event at least every 5 s
            conn.sendall(line.encode() + b"\n")
            lines = conn.makefile("rb")
            while raw := lines.readline():
                event = json.loads(raw)
                if not isinstance(event, dict) or "error" in event:
                    raise NoAnswer(str(event))
                yield event
                if "result" in event:
                    return
        except (OSError, ValueError) as exc:
            raise NoAnswer(str(exc)) from exc
    raise NoAnswer("the worker stopped before the job's end")


def _with_times(row: dict[str, Any]) -> dict[str, Any]:
    """A row's times (``at`` and ``*_at`` columns, sent in ISO form) as ``datetime`` again."""
    for key, value in row.items():
        if (key == "at" or key.endswith("_at")) and isinstance(value, str):
            with contextlib.suppress(ValueError):
                row[key] = dt.datetime.fromisoformat(value)
    return row


def _ask(settings: Settings | Asker, request: dict[str, Any], field: str) -> Any:
    """Send ``request`` to the worker; the ``field`` of its reply, ``None`` for no answer."""
    path, about = _whom(settings)
    if path is None:  # a worker of server mode has no socket
        return None
    line = json.dumps({**request, **about}, default=str)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(CONNECT_TIMEOUT_S)
            conn.connect(str(path))
            conn.settimeout(ANSWER_TIMEOUT_S)
            conn.sendall(line.encode() + b"\n")
            reply = _read_all(conn)
    except OSError as exc:  # no socket, a dead worker's socket (refused), no answer in time
        log.debug("no local worker answered (%s); the asker does it by itself", exc)
        return None
    try:
        answer = json.loads(reply)
    except ValueError:
        return None
    if not isinstance(answer, dict) or field not in answer:
        log.debug("the local worker did not answer: %s", answer)
        return None
    return answer[field]


def _portable(settings: Settings) -> dict[str, Any]:
    """The settings as JSON, their paths absolute (the worker's working folder is not ours) and
    their mode resolved here."""
    raw: dict[str, Any] = settings.model_dump(mode="json")
    # "auto" resolves by the environment, and the worker's points Prefect at its own server
    raw["mode"] = settings.active_mode
    for name, value in settings:
        if isinstance(value, Path):
            raw[name] = os.path.abspath(value)
    return raw


def _read_all(conn: socket.socket) -> bytes:
    parts = []
    while chunk := conn.recv(1 << 16):
        parts.append(chunk)
    return b"".join(parts)
