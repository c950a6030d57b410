"""Test helpers shared by the suites and the benches: waits, a frame sink, wire snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from naila_protocol.framing import Frame, encode_frame

if TYPE_CHECKING:  # the server-side suites import this module without the gateway's libraries
    from naila_gateway.gateway import Gateway
    from naila_gateway.peer import PeerSession


async def wait_until(predicate: Callable[[], object], within: float = 10.0) -> None:
    """Return once `predicate()` (state another task updates) is true; fail after `within` s."""
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
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


UPDATE_SNAPSHOTS = "NAILA_UPDATE_SNAPSHOTS"
"""Set to 1 to (re)write the snapshot files instead of comparing (then review the git diff)."""


def assert_snapshot(path: Path, data: bytes) -> None:
    """`data` equals the committed file `path` byte for byte (wire snapshots)."""
    if os.environ.get(UPDATE_SNAPSHOTS) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert path.exists(), f"no snapshot {path}: run with {UPDATE_SNAPSHOTS}=1 and commit it"
    expected = path.read_bytes()
    assert data == expected, f"{path.name} changed on the wire:\n{expected!r}\n!=\n{data!r}"
