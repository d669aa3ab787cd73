"""What every request passes before a route: the rate limit per client, the bearer token, the
declared body size. Limits are counted in this process (each server process counts its own).
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from typing import Any

from inlet.api.problems import api_problem
from inlet.config import Settings

OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
"""Paths answered without a token: the liveness probe and the API's own description (the
description holds no data; the docs page asks for the token to try the endpoints)."""
UNLIMITED_PATHS = frozenset({"/healthz"})
"""Paths outside the rate limit: a liveness probe must not be refused for being frequent."""


class RateLimiter:
    """Token buckets by key: ``per_minute`` requests, refilled evenly over the minute."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request of ``key``: 0 when allowed, else the seconds until one is free."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.rate
            if len(self._buckets) > 10_000:  # forget clients whose bucket has filled up again
                full = [
                    k for k, (t, a) in self._buckets.items() if t + (now - a) * self.rate >= self.capacity
                ]
                for k in full:
                    del self._buckets[k]
        return wait


def retry_after(wait_s: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait_s)))}


class Guard:
    """ASGI middleware: 429 past the client's rate, 401 without the token (when one is set),
    413 when the declared body is over the cap. Runs before any route reads the body."""

    def __init__(self, app: Any, settings: Settings, limiter: RateLimiter) -> None:
        self.app = app
        self.token = settings.api_token.get_secret_value().encode() if settings.api_token else None
        self.max_body = settings.api_max_request_bytes
        self.limiter = limiter

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        response = None
        if path not in UNLIMITED_PATHS:
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.take(client)
            if wait > 0:
                response = api_problem(
                    "rate_limited", f"Over {int(self.limiter.capacity)} requests per minute from this client.",
                    headers=retry_after(wait),
                )  # fmt: skip
        if response is None and self.token is not None and path not in OPEN_PATHS:
            scheme, _, given = headers.get("authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                response = api_problem("unauthorized", headers={"WWW-Authenticate": 'Bearer realm="inlet"'})
        if response is None:
            length = headers.get("content-length", b"")
            if length.isdigit() and int(length) > self.max_body:
                response = api_problem(
                    "request_too_large", f"The request declares {int(length)} bytes, over the {self.max_body}-byte limit."
                )  # fmt: skip
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
