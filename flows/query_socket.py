"""The local worker answers the ``inlet`` command's searches on a Unix socket in the home.

A new ``inlet search`` process that searched by itself would spend 2-3 s importing the store
(LanceDB), the frames (polars) and loading the query encoder before its first hit. The local
worker of embedded mode is long-lived and has them loaded, so it answers instead: the command
sends the search to ``Settings.query_socket_file`` and prints the rows it gets back, and
searches by itself only when no worker answers (no socket, a socket its dead worker left, no
answer in time). Both ways run :func:`pipelines.searches.ask` with the command's own settings,
so the hits are the same and the search is recorded once, by the process that ran it.

It answers ``inlet jobs`` and ``inlet status`` the same way (:func:`report_in_worker`,
:data:`REPORTS`): the analytics reader (DuckDB, polars) is loaded in the worker already.

The protocol: one request per connection, a line of JSON each way.

    request  {"search": {"query": ..., "mode": ..., "collection": ..., "kind": [...], "source": ...,
              "file": ..., "since": ..., "until": ..., "language": ..., "category": ...,
              "keyword": ..., "limit": ...}, "settings": {the asker's settings}}
    reply    {"hits": [{column: value, ...}, ...]}   or   {"error": "what went wrong"}
    request  {"report": {"name": "jobs" | "job_sources" | "status", "args": {...}}, "settings": {...}}
    reply    {"report": [{column: value, ...}, ...] or {...}}   or   {"error": ...}

A hit's values are JSON's (a time would arrive as ISO text, as ``--json`` prints it); an
error reply, like no answer, leaves the search to the asker, so an error reaches the terminal
exactly as a search in the command's own process raises it.

The socket is the worker's (``flows.worker``) for its life: created when it starts, readable
and writable by its user alone (0600), removed when it stops. Each connection is answered on
a thread of its own, so a search never holds up the worker's job polling, and a bad request
gets an error reply, never an exception in the worker.

Importing this module imports neither Prefect nor the store: the asking side
(:func:`search_in_worker`) is what a fresh ``inlet search`` process loads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
import socketserver
import threading
import time
from pathlib import Path
from typing import Any

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
_SUN_PATH_MAX = 107
"""The longest path a Unix socket can be bound to on Linux (``sun_path`` less its NUL)."""

_last_answer = 0.0


def last_answered() -> float:
    """When (``time.monotonic()``) this process last answered a search; 0.0 if never. A worker
    that answers searches is in use: it does not stop as idle."""
    return _last_answer


# --- the asking side -------------------------------------------------------------------------
def search_in_worker(settings: Settings, **search: Any) -> list[dict[str, Any]] | None:
    """The hits of a search (the keyword arguments of ``inlet.search`` but ``settings``) as rows,
    answered by this home's local worker; ``None`` when no worker answers, and the caller
    searches by itself (the worker's error replies, too, are left to the caller to raise)."""
    unknown = set(search) - SEARCH_FIELDS
    if unknown:
        raise TypeError(f"not a search parameter: {', '.join(sorted(unknown))}")
    hits = _ask(settings, {"search": search}, "hits")
    return hits if isinstance(hits, list) else None


def report_in_worker(settings: Settings, name: str, **args: Any) -> Any:
    """A report of :data:`REPORTS` (``jobs`` and ``job_sources`` as rows, ``status`` as a dict),
    made by this home's local worker from the asker's settings; ``None`` when no worker answers
    (the caller makes it by itself). Times come back as ``datetime`` values, as made here."""
    if set(args) - REPORTS.get(name, frozenset({"?"})):
        raise TypeError(f"not a report or not its parameters: {name}({', '.join(sorted(args))})")
    found = _ask(settings, {"report": {"name": name, "args": args}}, "report")
    if isinstance(found, list):
        return [_with_times(row) for row in found if isinstance(row, dict)]
    return found


def _with_times(row: dict[str, Any]) -> dict[str, Any]:
    """A row's times (``at`` and ``*_at`` columns, sent in ISO form) as ``datetime`` again."""
    for key, value in row.items():
        if (key == "at" or key.endswith("_at")) and isinstance(value, str):
            with contextlib.suppress(ValueError):
                row[key] = dt.datetime.fromisoformat(value)
    return row


def _ask(settings: Settings, request: dict[str, Any], field: str) -> Any:
    """Send ``request`` to the worker; the ``field`` of its reply, ``None`` for no answer."""
    if settings.active_mode != "embedded":  # a worker of server mode has no socket
        return None
    line = json.dumps({**request, "settings": _portable(settings)}, default=str)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(CONNECT_TIMEOUT_S)
            conn.connect(str(settings.query_socket_file))
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


# --- the worker's side -----------------------------------------------------------------------
class QuerySocket:
    """The worker's listening socket; :meth:`start` it once, :meth:`stop` it when the worker stops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.query_socket_file
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Listen (a socket a dead worker left is replaced); False when the home's path is too
        long for a Unix socket, and the ``inlet`` command searches by itself."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        if len(os.fsencode(tmp)) > _SUN_PATH_MAX:
            log.warning("%s is too long a path for a socket; the inlet command searches by itself", tmp)
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
            server = _Server(str(tmp), _Handler)
            # bound under a temporary name and made private before it takes the real one, so
            # the socket is never reachable with wider permissions
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:  # the worker runs its jobs all the same
            log.warning("cannot answer searches on %s (%s); the inlet command searches by itself",
                        self.path, exc)  # fmt: skip
            return False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="inlet-queries", daemon=True)
        self._thread.start()
        threading.Thread(target=_warm, name="inlet-queries-warm", daemon=True).start()
        log.info("answering searches on %s", self.path)
        return True

    def stop(self) -> None:
        """Stop answering and remove the socket (searches in flight still get their answer)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with contextlib.suppress(OSError):
            self.path.unlink()


def _warm() -> None:
    """Import what a search needs while nobody waits for it (the worker is starting)."""
    try:
        import pipelines.searches  # noqa: F401
    except Exception:  # noqa: BLE001 - the first search imports it again and says why
        log.debug("warming the search failed", exc_info=True)


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    block_on_close = False


class _Handler(socketserver.StreamRequestHandler):
    timeout = ANSWER_TIMEOUT_S  # a client that connects and sends nothing does not keep a thread
    server: _Server

    def handle(self) -> None:
        global _last_answer
        try:
            line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
            if len(line) > MAX_REQUEST_BYTES or not line.endswith(b"\n"):
                raise ValueError("a request is one line of JSON of at most 1 MiB")
            request = json.loads(line)
            if isinstance(request, dict) and "report" in request:
                reply: dict[str, Any] = {"report": report(request)}
            else:
                reply = {"hits": answer(request)}
                _last_answer = time.monotonic()  # a search is use; a glance at the jobs is not
        except Exception as exc:  # noqa: BLE001 - a bad request or a failed search: say so
            log.info("a search over the socket failed: %s: %s", type(exc).__name__, exc)
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        with contextlib.suppress(OSError):  # the asker gave up waiting
            self.wfile.write(json.dumps(reply, default=_json_default, ensure_ascii=False).encode() + b"\n")


def _json_default(value: Any) -> Any:
    """A value JSON has no type for, as ``inlet search --json`` prints it (a time in ISO form)."""
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


_settings_cache: dict[str, Settings] = {}
_settings_lock = threading.Lock()


def answer(request: Any) -> list[dict[str, Any]]:
    """The hits of one search request, as JSON-ready rows (see the module's docstring)."""
    if not isinstance(request, dict) or not isinstance(request.get("search"), dict):
        raise ValueError('a request is {"search": {...}, "settings": {...}}')
    search = request["search"]
    unknown = set(search) - SEARCH_FIELDS
    if unknown or not isinstance(search.get("query"), str):
        raise ValueError(f"a search has a query (text) and no other fields than {sorted(SEARCH_FIELDS)}")
    from pipelines.searches import ask

    hits = ask(_settings(request.get("settings")), **search)
    return hits.to_dicts()


def report(request: Any) -> Any:
    """The report a request asks for (see :func:`report_in_worker`), JSON-ready."""
    asked = request.get("report")
    if (
        not isinstance(asked, dict)
        or asked.get("name") not in REPORTS
        or not isinstance(asked.get("args", {}), dict)
    ):
        raise ValueError(
            f"a report request is {{'report': {{'name': one of {sorted(REPORTS)}, 'args': {{...}}}}}}"
        )
    name, args = asked["name"], asked.get("args", {})
    if set(args) - REPORTS[name]:
        raise ValueError(f"{name} takes no other arguments than {sorted(REPORTS[name])}")
    settings = _settings(request.get("settings"))
    if name == "status":
        from flows.status import status

        return status(settings)
    from pipelines import analytics

    frame = analytics.jobs(settings, **args) if name == "jobs" else analytics.job_sources(settings, **args)
    return frame.to_dicts()


def _settings(raw: Any) -> Settings:
    """The asker's settings (the worker's own may differ: its environment is the first
    submitter's), made once per distinct value."""
    if not isinstance(raw, dict):
        raise ValueError("a request carries the asker's settings")
    key = json.dumps(raw, sort_keys=True)
    with _settings_lock:
        found = _settings_cache.get(key)
        if found is None:
            if len(_settings_cache) > 16:
                _settings_cache.clear()
            found = _settings_cache[key] = Settings(**raw)
    return found
