"""Turns JPEG motion frames into VIDEO frames of the gateway <-> AI-server TCP protocol."""

from __future__ import annotations

import itertools
import secrets
from typing import Protocol

from naila_protocol.framing import Frame, FrameKind, is_valid_id

VIDEO_SAMPLE_RATE = 0
"""The sample_rate header field of VIDEO frames (docs/protocol.md)."""


class FrameSink(Protocol):
    """What the camera path needs from the AI-server connection (naila_gateway.server_client.ServerClient fits)."""

    async def send(self, frame: Frame) -> bool:
        """Write one frame; False (or an exception) when it could not be written."""


class FrameNotSent(ConnectionError):
    """The sink could not write the frame (AI server not connected)."""


class VideoFrameSender:
    """Wraps each JPEG as `{camera_id}|{len}|0|{request_id}|video` and hands it to a sink."""

    def __init__(self, sink: FrameSink, camera_id: str) -> None:
        if not is_valid_id(camera_id):
            raise ValueError(f"invalid camera id {camera_id!r}: 1-64 of [A-Za-z0-9_.:-]")
        self.camera_id = camera_id
        self._sink = sink
        self._prefix = f"vid-{secrets.token_hex(3)}-"
        self._numbers = itertools.count(1)

    def make_frame(self, jpeg: bytes) -> Frame:
        """A VIDEO frame with a fresh request_id (vid-<random>-<n>, unique per sender)."""
        request_id = f"{self._prefix}{next(self._numbers)}"
        return Frame(self.camera_id, VIDEO_SAMPLE_RATE, request_id, FrameKind.VIDEO, jpeg)

    async def send(self, jpeg: bytes) -> Frame:
        """Send one JPEG; returns the frame sent, raises FrameNotSent if the sink refused it."""
        frame = self.make_frame(jpeg)
        if not await self._sink.send(frame):
            raise FrameNotSent(f"{frame.request_id} not written: AI server not connected")
        return frame
