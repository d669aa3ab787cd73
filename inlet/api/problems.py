"""Errors in one shape: ``application/problem+json`` (RFC 9457: ``type``, ``title``, ``status``,
``detail``) plus inlet's ``class``, ``hint`` and ``retryable``.

An :class:`inlet.InletError` keeps its own class and hint; what only the HTTP layer knows (a
missing token, a rate limit, a path outside the roots) has a class of its own, listed in
:data:`API_CLASSES` and served by ``GET /v1/errors/classes``. No traceback ever leaves the
process: an unexpected exception is logged here and answered with the ``internal`` class.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import inlet

log = logging.getLogger("inlet.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"

API_CLASSES: dict[str, dict[str, Any]] = {
    "unauthorized": {
        "status": 401, "message": "The request carries no valid bearer token.",
        "hint": "Send `Authorization: Bearer <token>` with the token the server was started with (INLET_API_TOKEN).",
        "retryable": False,
    },
    "forbidden_path": {
        "status": 403, "message": "A path is outside the folders the API may read.",
        "hint": "Upload the file instead, or add its folder to INLET_API_ROOTS on the server.",
        "retryable": False,
    },
    "unknown_resource": {
        "status": 404, "message": "Nothing with this id or name is known here.",
        "hint": "List what exists with GET /v1/jobs, /v1/sources or /v1/collections.",
        "retryable": False,
    },
    "file_gone": {
        "status": 410, "message": "The original file is no longer where it was ingested, or it changed since.",
        "hint": "Ingest the file again to serve its current version.",
        "retryable": False,
    },
    "request_too_large": {
        "status": 413, "message": "The request body is over the size the API accepts.",
        "hint": "Send fewer or smaller files per request, or raise INLET_API_MAX_REQUEST_BYTES on the server.",
        "retryable": False,
    },
    "unsupported_media_type": {
        "status": 415, "message": "The request body is neither multipart/form-data nor JSON.",
        "hint": "Upload files as multipart/form-data (field `files`), or send JSON {\"paths\": [...]}.",
        "retryable": False,
    },
    "invalid_request": {
        "status": 400, "message": "A parameter of the request is missing or wrong.",
        "hint": "Check the parameters against the OpenAPI document (/docs).",
        "retryable": False,
    },
    "nothing_accepted": {
        "status": 422, "message": "No file of the request was accepted.",
        "hint": "See why each file was rejected in `rejected`, fix them and send them again.",
        "retryable": False,
    },
    "rate_limited": {
        "status": 429, "message": "Too many requests from this client, or uploads to this collection.",
        "hint": "Wait for the seconds in Retry-After; the limits are INLET_API_RATE_PER_MINUTE and INLET_API_UPLOADS_PER_MINUTE (per server process).",
        "retryable": True,
    },
}  # fmt: skip
"""The problems only the HTTP layer reports, by class: status, message, hint, retryable."""

_GROUP_STATUS = {"input": 422, "resource": 503, "model": 503, "storage": 503}
_CLASS_STATUS = {"model_mismatch": 409}
"""Classes whose status is not their group's: a request that conflicts with what is stored."""


class Problem(Exception):
    """An API problem of one of :data:`API_CLASSES`, raised by a route, answered by the handler."""

    def __init__(
        self,
        cls: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        known = API_CLASSES[cls]
        super().__init__(detail or known["message"])
        self.cls, self.status = cls, int(known["status"])
        self.detail = detail or str(known["message"])
        self.headers, self.extra = headers or {}, extra or {}


class JSON(JSONResponse):
    """JSON with dates as ISO strings and NaN or infinite floats as ``null`` (polars frames hold
    them; JSON has no spelling for them)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            plain(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str
        ).encode("utf-8")


def plain(value: Any) -> Any:
    """``value`` with floats that JSON cannot hold as ``None``, dates as ISO strings, paths as text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def problem(
    status: int,
    cls: str,
    detail: str,
    *,
    hint: str | None,
    retryable: bool,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSON:
    """One problem document (RFC 9457) with inlet's fields; ``type`` points at the class in
    ``GET /v1/errors/classes``."""
    body = {
        "type": f"/v1/errors/classes#{cls}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "class": cls,
        "hint": hint,
        "retryable": retryable,
        **(extra or {}),
    }
    return JSON(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def api_problem(cls: str, detail: str | None = None, **kwargs: Any) -> JSON:
    """The response for one of :data:`API_CLASSES` (outside a route: the guard's 401 and 429)."""
    raised = Problem(cls, detail, **kwargs)
    return from_problem(raised)


def from_problem(exc: Problem) -> JSON:
    known = API_CLASSES[exc.cls]
    return problem(exc.status, exc.cls, exc.detail, hint=known["hint"], retryable=known["retryable"],
                   headers=exc.headers, extra=exc.extra)  # fmt: skip


def from_inlet_error(exc: inlet.InletError) -> JSON:
    group = next((c["group"] for c in inlet.error_classes() if c["class"] == exc.code), None)
    status = (
        500 if exc.code == "internal" else _CLASS_STATUS.get(exc.code) or _GROUP_STATUS.get(group or "", 500)
    )
    return problem(status, exc.code, exc.message, hint=exc.hint or None, retryable=exc.retryable,
                   title=type(exc).__name__)  # fmt: skip


def install(app: Any) -> None:
    """Register the handlers that turn every exception into a problem document."""

    async def on_problem(request: Request, exc: Exception) -> JSON:
        assert isinstance(exc, Problem)
        return from_problem(exc)

    async def on_inlet_error(request: Request, exc: Exception) -> JSON:
        assert isinstance(exc, inlet.InletError)
        return from_inlet_error(exc)

    async def on_lookup(request: Request, exc: Exception) -> JSON:
        if type(exc) is not LookupError:  # a KeyError or IndexError is a bug, not a missing thing
            return await on_anything(request, exc)
        return from_problem(Problem("unknown_resource", _message(exc)))

    async def on_value(request: Request, exc: Exception) -> JSON:
        return from_problem(Problem("invalid_request", _message(exc)))

    async def on_validation(request: Request, exc: Exception) -> JSON:
        assert isinstance(exc, RequestValidationError)
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path', 'body'))}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return from_problem(Problem("invalid_request", "; ".join(parts) or None))

    async def on_http(request: Request, exc: Exception) -> JSON:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return from_problem(Problem("unknown_resource", f"No such path: {request.url.path}"))
        return problem(exc.status_code, "invalid_request", str(exc.detail), hint=None, retryable=False,
                       headers=dict(exc.headers or {}))  # fmt: skip

    async def on_anything(request: Request, exc: Exception) -> JSON:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        internal = next(c for c in inlet.error_classes() if c["class"] == "internal")
        return problem(500, "internal", "An unexpected error happened; it is logged by the server.",
                       hint=internal["hint"], retryable=False, title="InternalError")  # fmt: skip

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(inlet.InletError, on_inlet_error)
    app.add_exception_handler(LookupError, on_lookup)
    app.add_exception_handler(ValueError, on_value)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_anything)


def _message(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else str(exc)
