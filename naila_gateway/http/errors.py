"""JSON error replies: every refused request says why in `{"error": code, "message": text}`."""

from __future__ import annotations

from aiohttp import web


class ApiError(Exception):
    """Raised by a handler; the error middleware turns it into a JSON reply."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to be longer than `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"body longer than {limit} bytes")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise ApiError(413, "too_large", f"body longer than {limit} bytes")
    return body
