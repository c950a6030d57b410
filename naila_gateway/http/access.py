"""Who may use the API: access token, same-origin checks, per-client rate limit, JSON errors."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from naila_gateway.http.errors import ApiError, json_error
from naila_gateway.http.settings import HttpSettings
from naila_gateway.signaling_limit import SignalingLimiter

_LOGGER = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_COOKIE = "naila_token"
PUBLIC_PREFIXES = ("/static/",)
"""The page and its assets hold no secrets: they load without a token."""
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(TOKEN_COOKIE) or request.query.get("token")


def _own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


class AccessControl:
    """aiohttp middlewares built from the HTTP settings."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self.limiter = SignalingLimiter(settings.request_rate, settings.request_burst)

    def is_public(self, request: web.Request) -> bool:
        return request.method == "GET" and (
            request.path in ("/", "/index.html") or request.path.startswith(PUBLIC_PREFIXES)
        )

    def via_trusted_proxy(self, request: web.Request) -> bool:
        proxy = self.settings.trusted_proxy
        return proxy is not None and request.remote == proxy

    def check(self, request: web.Request) -> None:
        """Raise ApiError (401/403/429) for a request that may not proceed."""
        if self.is_public(request):
            return
        trusted = self.via_trusted_proxy(request)
        token = self.settings.token
        if token and not trusted:
            presented = _presented_token(request)
            if presented is None:
                raise ApiError(401, "unauthorized", "an access token is required")
            if not hmac.compare_digest(presented.encode(), token.encode()):
                raise ApiError(403, "forbidden", "wrong access token")
        if request.method in _UNSAFE:
            origin = request.headers.get("Origin")
            allowed = {_own_origin(request), *self.settings.allowed_origins}
            if origin is not None and not trusted and origin.rstrip("/") not in allowed:
                raise ApiError(403, "cross_origin", f"origin {origin!r} may not call this API")
            if not self.limiter.allow(request.remote or "?", time.monotonic()):
                raise ApiError(429, "rate_limited", "too many requests: slow down")

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            self.check(request)
            return await handler(request)
        except ApiError as err:
            _LOGGER.info("%s %s -> %d %s", request.method, request.path, err.status, err.message)
            return json_error(err.status, err.code, err.message)
        except web.HTTPException as err:
            if err.status < 400:
                raise
            _LOGGER.info("%s %s -> %d", request.method, request.path, err.status)
            code = "too_large" if err.status == 413 else err.reason.lower().replace(" ", "_")
            return json_error(err.status, code, err.text or err.reason)
