"""The page's live feed: the device's events (`devices/{id}/events`) as server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from naila_gateway.http.whip import device_id_of

_LOGGER = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
QUEUE_EVENTS = 256
"""Events buffered per listener; a listener that falls further behind loses the oldest."""
MAX_LISTENERS = 64


class EventFeed:
    """Fans the gateway's device events out to the page's EventSource connections."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[bytes | None]]] = {}
        self._closing = False

    def publish(self, device_id: str, payload: bytes) -> None:
        """Gateway event tap (runs on the loop, never blocks)."""
        for queue in self._listeners.get(device_id, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(payload)

    def close(self) -> None:
        """End every open stream (before the HTTP server stops)."""
        self._closing = True
        for queues in self._listeners.values():
            for queue in queues:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        device_id = device_id_of(request)
        if self._closing:
            raise web.HTTPServiceUnavailable()
        if sum(len(q) for q in self._listeners.values()) >= MAX_LISTENERS:
            raise web.HTTPTooManyRequests(text="too many event streams")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_EVENTS)
        self._listeners.setdefault(device_id, set()).add(queue)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    payload = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if payload is None:
                    break
                await response.write(b"data: " + payload + b"\n\n")
        except (ConnectionResetError, ConnectionError):
            _LOGGER.debug("[%s] event stream closed by the client", device_id)
        finally:
            listeners = self._listeners.get(device_id, set())
            listeners.discard(queue)
            if not listeners:
                self._listeners.pop(device_id, None)
        return response
