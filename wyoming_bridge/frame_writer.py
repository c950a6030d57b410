"""Writing frames to one gateway connection: one at a time, errors back to the gateway."""

from __future__ import annotations

import asyncio
import logging

from naila_protocol.framing import ErrorCode, Frame, encode_frame, error_frame
from naila_protocol.tasks import TaskSet

_LOGGER = logging.getLogger(__name__)


class FrameWriter:
    """Serializes writes; `*_soon` methods write from synchronous code in owned tasks."""

    def __init__(self, writer: asyncio.StreamWriter, peer: str) -> None:
        self.writer = writer
        self.peer = peer
        self._lock = asyncio.Lock()
        self._tasks = TaskSet(_LOGGER)

    async def send(self, frame: Frame) -> None:
        """Write one frame; ConnectionResetError once the connection is closing."""
        data = encode_frame(frame)
        async with self._lock:
            if self.writer.is_closing():
                raise ConnectionResetError("connection closed")
            self.writer.write(data)
            await self.writer.drain()

    async def send_quietly(self, frame: Frame) -> None:
        """Write one frame; a connection already gone is not an error (the reply is moot)."""
        try:
            await self.send(frame)
        except ConnectionError as err:
            _LOGGER.debug("[%s] frame not sent: %s", self.peer, err)

    def send_soon(self, frame: Frame) -> None:
        """Write from synchronous code: an owned task, awaited by close()."""
        self._tasks.spawn(self.send_quietly(frame), name=f"send {frame.kind.value}")

    async def reject(self, frame: Frame, code: ErrorCode, message: str) -> None:
        """Tell the gateway why this frame was refused (the connection stays open)."""
        _LOGGER.warning(
            "[%s] %s %s/%s: %s", self.peer, code.value, frame.device_id, frame.request_id, message
        )
        await self.send_quietly(
            error_frame(code, message, device_id=frame.device_id, request_id=frame.request_id)
        )

    def reject_soon(self, frame: Frame, code: ErrorCode, message: str) -> None:
        """Reject from synchronous code: the ERROR frame is written by an owned task."""
        self._tasks.spawn(self.reject(frame, code, message), name=f"reject {code.value}")

    async def fail(self, code: ErrorCode, message: str) -> None:
        """Connection-level error: one ERROR frame, then the caller closes the connection."""
        _LOGGER.warning("[%s] closing: %s: %s", self.peer, code.value, message)
        await self.send_quietly(error_frame(code, message))

    async def close(self) -> None:
        """Finish (cancel) the writes still queued, then close the connection."""
        await self._tasks.close()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError as err:  # the peer reset it first: closed all the same
            _LOGGER.debug("[%s] closed: %s", self.peer, err)
