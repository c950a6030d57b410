"""Test-side gateway client for the audio socket, built on naila_protocol.framing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np

from naila_protocol.framing import Frame, FrameKind, ReplySummary, encode_frame, read_frame

REPLY_TIMEOUT_S = 60.0


@dataclass
class StreamedReply:
    audio_frames: list[Frame] = field(default_factory=list)
    end: Frame | None = None

    @property
    def pcm(self) -> bytes:
        return b"".join(frame.payload for frame in self.audio_frames)

    @property
    def summary(self) -> ReplySummary:
        assert self.end is not None, "no END frame"
        return ReplySummary.from_frame(self.end)


class Gateway:
    """One connection to the audio socket, like a gateway's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, frame: Frame) -> None:
        self.writer.write(encode_frame(frame))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frame(self, within: float = REPLY_TIMEOUT_S) -> Frame | None:
        return await asyncio.wait_for(read_frame(self.reader), within)

    async def streamed_reply(
        self, request_id: str, within: float = REPLY_TIMEOUT_S
    ) -> StreamedReply:
        """AUDIO frames of `request_id` until its END (frames of other requests are ignored)."""
        reply = StreamedReply()
        async with asyncio.timeout(within):
            while True:
                frame = await read_frame(self.reader)
                assert frame is not None, "connection closed before END"
                if frame.request_id != request_id:
                    continue
                assert frame.kind in (FrameKind.AUDIO, FrameKind.END), frame
                if frame.kind is FrameKind.END:
                    reply.end = frame
                    return reply
                reply.audio_frames.append(frame)

    async def closed(self, within: float = 10.0) -> bool:
        """True once the server closed the connection (after any pending frames)."""
        async with asyncio.timeout(within):
            while await self.reader.read(65536):
                pass
        return True


@contextlib.asynccontextmanager
async def connect(port: int) -> AsyncIterator[Gateway]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield Gateway(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def pcm_bytes(samples: np.ndarray) -> bytes:
    return samples.astype("<i2").tobytes()


def silence(seconds: float, rate: int) -> bytes:
    return bytes(int(seconds * rate) * 2)
