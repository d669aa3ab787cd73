"""The FastAPI application: routes of :mod:`inlet.api.jobs`, :mod:`inlet.api.library` and
:mod:`inlet.api.reports`, behind the guard (rate limit, token, body size) and, when origins are
configured, CORS; every error is a problem document (:mod:`inlet.api.problems`)."""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPBearer

import inlet
from inlet.api import jobs, library, problems, reports
from inlet.api.guard import Guard, RateLimiter
from inlet.config import Settings, get_settings

log = logging.getLogger("inlet.api")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.1``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to serve on ``host`` when it is not loopback and no token is set: a ``ValueError``
    that says how to set one."""
    if not is_loopback(host) and settings.api_token is None:
        raise ValueError(
            f"refusing to serve on {host} without a token: anyone who can reach it could read and "
            "change the knowledge base. Set INLET_API_TOKEN (clients then send "
            "'Authorization: Bearer <token>'), or bind 127.0.0.1."
        )


def create_app(settings: Settings | None = None, *, preload: bool = True) -> FastAPI:
    """The HTTP API over ``settings`` (default: from the ``INLET_*`` environment).

    Args:
        preload: load the search model in the background at start, so the first search does
            not wait for it.
    """
    s = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if preload:
            threading.Thread(target=_preload, args=(s,), name="inlet-preload", daemon=True).start()
        yield

    bearer = [HTTPBearer(auto_error=False)] if s.api_token is not None else []
    app = FastAPI(
        title="inlet",
        version=inlet.__version__,
        summary="Documents and recordings in, a searchable knowledge base out.",
        description=(
            "Upload files or name server-side paths to queue jobs, follow them (polling or "
            "Server-Sent Events), search with filters, highlights and citations, and read the "
            "reports. Errors are `application/problem+json` with inlet's `class`, `hint` and "
            "`retryable`."
        ),
        lifespan=lifespan,
        default_response_class=problems.JSON,
        dependencies=[Depends(scheme) for scheme in bearer],  # documents the scheme; the guard checks
    )
    app.state.settings = s
    app.state.upload_limiter = RateLimiter(s.api_uploads_per_minute)
    app.state.job_views = jobs.JobViews()
    problems.install(app)
    for module in (jobs, library, reports):
        app.include_router(module.router)
    app.add_middleware(Guard, settings=s, limiter=RateLimiter(s.api_rate_per_minute))
    if s.api_cors_origins:  # outermost, so that a browser's preflight is answered before the guard
        app.add_middleware(
            CORSMiddleware, allow_origins=s.api_cors_origins, allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Range", "Last-Event-ID"],
            expose_headers=["Location", "Retry-After", "Content-Range"],
        )  # fmt: skip
    return app


def _preload(settings: Settings) -> None:
    try:
        inlet.preload(settings=settings)
    except Exception as exc:  # a missing model is reported by /readyz and by the search itself
        log.warning("could not preload the search model: %s", exc)
