"""Test helpers shared by the suites and the benches: waits on conditions, a frame sink."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from naila_protocol.framing import Frame, encode_frame

if TYPE_CHECKING:  # the server-side suites import this module without the gateway's libraries
    from naila_gateway.gateway import Gateway
    from naila_gateway.peer import PeerSession


async def wait_until(predicate: Callable[[], object], limit: float = 10.0) -> None:
    """Return once `predicate()` (state another task updates) is true; fail after `limit` s."""
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {limit} s")
        await asyncio.sleep(0.01)


async def wait_for_session(gateway: Gateway, device_id: str, limit: float = 10.0) -> PeerSession:
    """Wait until `device_id` has a connected session on `gateway`."""
    async with asyncio.timeout(limit):
        while True:
            session = gateway.sessions.get(device_id)
            if session is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.connected.wait(), 0.2)
                    return session
            else:
                await asyncio.sleep(0.02)


class StreamFrameSink:
    """A FrameSink (naila_gateway.video.sender) over a dedicated asyncio stream to an AI server."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._lock = asyncio.Lock()

    async def send(self, frame: Frame) -> bool:
        """Raises ConnectionError/OSError if the connection broke."""
        async with self._lock:
            self._writer.write(encode_frame(frame))
            await self._writer.drain()
        return True
