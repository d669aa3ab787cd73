"""The local worker's side of its socket (``flows.query_socket`` has the protocol and the asking
side): it listens, and answers searches, reports, submits and follows on a thread per
connection, so a search never holds up the worker's job polling, and a bad request gets an
error reply, never an exception in the worker."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import Any

from flows.import_ahead import import_ahead
from flows.query_socket import ANSWER_TIMEOUT_S, MAX_REQUEST_BYTES, REPORTS, SEARCH_FIELDS
from pipelines.config import Settings, settings_for
from pipelines.queue import JobRequest

log = logging.getLogger("inlet.worker")

_SUN_PATH_MAX = 107
"""The longest path a Unix socket can be bound to on Linux (``sun_path`` less its NUL)."""

_last_answer = 0.0


def last_answered() -> float:
    """When (``time.monotonic()``) this process last answered a search; 0.0 if never. A worker
    that answers searches is in use: it does not stop as idle."""
    return _last_answer


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
        # what a search needs, while nobody waits for it; lancedb, the store's driver, takes 3 s
        # (most of it its namespace client's models), which a first job or search would wait for
        import_ahead("lancedb", "pipelines.searches", name="inlet-queries-warm")
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
            elif isinstance(request, dict) and "submit" in request:
                reply = {"job_id": submit(request)}
            elif isinstance(request, dict) and "follow" in request:
                events = follow(request)
                with contextlib.suppress(OSError):  # the asker stopped following (Ctrl-C)
                    for event in events:
                        self.wfile.write(json.dumps(event, default=_json_default).encode() + b"\n")
                        self.wfile.flush()
                return
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

    hits = ask(_settings(request), **search)
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
    settings = _settings(request)
    if name == "status":
        from flows.status import status

        return status(settings)
    from pipelines import analytics

    frame = analytics.jobs(settings, **args) if name == "jobs" else analytics.job_sources(settings, **args)
    return frame.to_dicts()


def submit(request: Any) -> str:
    """Submit the job a request carries (see :func:`submit_in_worker`); its id."""
    fields = {f.name for f in dataclasses.fields(JobRequest)}
    job = request.get("submit")
    if not isinstance(job, dict) or set(job) - fields or not isinstance(job.get("paths"), list):
        raise ValueError(f"a submit request is {{'submit': {{{', '.join(sorted(fields))}}}}}")
    from flows.submit import submit_here

    settings = _settings(request)
    if job.get("collection") is None:  # a command that named none: the asker's default
        job = {**job, "collection": settings.collection}
    return submit_here(JobRequest(**job), settings)


def follow(request: Any) -> Iterator[dict[str, Any]]:
    """The events of the job a follow request names (see :func:`follow_in_worker`)."""
    asked = request.get("follow")
    if not isinstance(asked, dict) or not isinstance(asked.get("job_id"), str):
        raise ValueError('a follow request is {"follow": {"job_id": ..., "progress": ..., "timeout_s": ...}}')
    from flows.follow import follow as follow_job

    timeout_s = asked.get("timeout_s")
    deadline = None if timeout_s is None else time.monotonic() + float(timeout_s)
    settings = _settings(request)
    return follow_job(settings, asked["job_id"], progress=bool(asked.get("progress", True)),
                      deadline=deadline, revive=False)  # fmt: skip


def _settings(request: dict[str, Any]) -> Settings:
    """The asker's settings (the worker's own may differ: its environment is the first
    submitter's): those it sent, or made from the environment a command sent
    (``flows.query_socket.Asker``); made once per distinct value."""
    raw, asker = request.get("settings"), request.get("asker")
    if not isinstance(raw, dict) and not (
        isinstance(asker, dict)
        and isinstance(asker.get("environment"), dict)
        and isinstance(asker.get("cwd"), str)
    ):
        raise ValueError('a request carries the asker\'s "settings" or its "asker": {"environment", "cwd"}')
    key = json.dumps([raw, asker], sort_keys=True)
    with _settings_lock:
        found = _settings_cache.get(key)
        if found is None:
            if len(_settings_cache) > 16:
                _settings_cache.clear()
            if isinstance(raw, dict):
                found = Settings(**raw)
            else:
                assert isinstance(asker, dict)  # checked above
                found = settings_for(asker["environment"], asker["cwd"])
            _settings_cache[key] = found
    return found
