"""Measure NAILA's AI server through its gateway audio socket, as the gateway talks to it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from naila_protocol.framing import (
    BYTES_PER_SAMPLE,
    NO_REQUEST,
    Frame,
    FrameKind,
    ReplySummary,
    encode_frame,
    parse_header,
)

FRAME_MS = 20
"""The gateway's audio frame length."""
REPLY_TIMEOUT_S = 60.0


class ServerReplyError(RuntimeError):
    """The server answered with an ERROR frame or closed the connection early."""


@dataclass(slots=True)
class NailaTiming:
    """One NAILA turn; server_ms = end of request -> first reply audio byte."""

    mode: str
    server_ms: float
    hangover_ms: float
    """Silence hang-over the gateway waits before it ends the request."""
    reply_audio_bytes: int
    summary: ReplySummary

    @property
    def end_to_end_ms(self) -> float:
        """From the user's last speech sample: the gateway's hang-over plus the server time."""
        return self.hangover_ms + self.server_ms


async def _read_reply(
    reader: asyncio.StreamReader, request_id: str, rate: int
) -> tuple[float, int, ReplySummary]:
    """Read AUDIO frames until END; return perf_counter at the first audio byte."""
    t_first = 0.0
    audio_bytes = 0
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise ServerReplyError(f"server closed the connection during {request_id}") from None
        header = parse_header(line)
        if header.kind is FrameKind.AUDIO and header.length and not t_first:
            first = await reader.readexactly(1)
            t_first = time.perf_counter()
            payload = first + await reader.readexactly(header.length - 1)
        else:
            payload = await reader.readexactly(header.length) if header.length else b""
        frame = Frame(header.device_id, header.sample_rate, header.request_id, header.kind, payload)
        if frame.kind is FrameKind.ERROR and frame.request_id in (request_id, NO_REQUEST):
            raise ServerReplyError(f"server error for {request_id}: {frame.json()}")
        if frame.request_id != request_id:
            continue
        if frame.kind is FrameKind.AUDIO:
            if frame.sample_rate != rate:
                raise ServerReplyError(f"reply audio at {frame.sample_rate} Hz, asked for {rate}")
            audio_bytes += len(payload)
        elif frame.kind is FrameKind.END:
            summary = ReplySummary.from_frame(frame)
            if not t_first:
                raise ServerReplyError(f"no reply audio for {request_id}: {summary}")
            return t_first, audio_bytes, summary


@contextlib.asynccontextmanager
async def _connection(
    host: str, port: int
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _time_reply(
    mode: str,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request_id: str,
    rate: int,
    hangover_s: float,
) -> NailaTiming:
    """Flush the request's last frame (its end) and time the reply's first audio byte."""
    await writer.drain()
    t_end = time.perf_counter()
    t_first, audio_bytes, summary = await asyncio.wait_for(
        _read_reply(reader, request_id, rate), REPLY_TIMEOUT_S
    )
    return NailaTiming(mode, (t_first - t_end) * 1000.0, hangover_s * 1000.0, audio_bytes, summary)


async def measure_stream(
    host: str, port: int, pcm: bytes, rate: int, device_id: str, request_id: str, hangover_s: float
) -> NailaTiming:
    """Whole utterance in one STREAM frame (speech + hang-over silence, as the gateway sends it)."""
    async with _connection(host, port) as (reader, writer):
        writer.write(encode_frame(Frame(device_id, rate, request_id, FrameKind.STREAM, pcm)))
        return await _time_reply("stream", reader, writer, request_id, rate, hangover_s)


async def measure_chunked(
    host: str,
    port: int,
    pcm: bytes,
    rate: int,
    device_id: str,
    request_id: str,
    hangover_s: float,
    chunk_frames: int,
) -> NailaTiming:
    """CHUNK frames paced in real time while 'spoken' (speech + hang-over), then an empty FINAL.

    The end of the request is the FINAL frame, sent when the gateway's hang-over has elapsed.
    """
    step = rate * FRAME_MS // 1000 * chunk_frames * BYTES_PER_SAMPLE
    async with _connection(host, port) as (reader, writer):
        start = time.perf_counter()
        for offset in range(0, len(pcm), step):
            # Absolute clock: chunk k leaves when its last sample has been "spoken".
            due = start + (offset + step) / BYTES_PER_SAMPLE / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            chunk = pcm[offset : offset + step]
            writer.write(encode_frame(Frame(device_id, rate, request_id, FrameKind.CHUNK, chunk)))
            await writer.drain()
        writer.write(encode_frame(Frame(device_id, rate, request_id, FrameKind.FINAL, b"")))
        return await _time_reply("chunked", reader, writer, request_id, rate, hangover_s)
