"""A real TCP AI-server stand-in speaking naila_protocol.framing (for tests without models).

It answers every finished request with a tone: streamed AUDIO frames + END for CHUNK/FINAL,
STREAM and SPEAK requests, one basic frame for a basic request. It honours CANCEL.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import numpy as np

from naila_protocol.framing import (
    NO_REQUEST,
    ErrorCode,
    Frame,
    FrameError,
    FrameKind,
    PartialTranscript,
    ReplySummary,
    TurnVerdict,
    encode_frame,
    error_frame,
    read_frame,
)

REPLY_RATE = 22050


def reply_tone(seconds: float, rate: int = REPLY_RATE) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 330 * t) * 9000).astype("<i2").tobytes()


@dataclass
class ReplyServer:
    reply_seconds: float = 1.0
    chunk_seconds: float = 0.2
    first_delay: float = 0.05
    pace: float = 0.25
    """Seconds of sending per second of reply audio (1.0 = real time, like streamed TTS)."""
    """Seconds before the first reply chunk (stands in for STT+LLM+TTS)."""
    port: int = 0
    token: str | None = None
    """When set, the first frame must be AUTH with this token (else ERROR unauthorized)."""
    turn: bool | bytes | None = None
    """Answer TURN subscriptions: a verdict `complete` = this at each pause (bytes: that body)."""
    turn_delay: float = 0.05
    partial: str | bytes | None = None
    """Answer PARTIAL subscriptions: this transcript at each pause (bytes: that body)."""
    partials_sent: int = 0
    """PARTIAL frames written (before any later frame of their request)."""
    """Seconds from a pause (150 ms of quiet chunks) to its verdict (stands in for STT)."""
    received: list[Frame] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    connections: int = 0
    refused: list[bytes] = field(default_factory=list)
    """AUTH tokens (or first frames' bodies) answered with ERROR unauthorized."""
    _subscribed: dict[str, list[int]] = field(default_factory=dict)
    """request_id -> [audio ms so far, quiet ms at its end, pause already answered]."""
    _wanted: dict[str, set[FrameKind]] = field(default_factory=dict)
    """request_id -> the subscriptions (TURN, PARTIAL) answered at its pauses."""
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every connection (like the process dying)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            if self.token is not None:
                first = await read_frame(reader)
                if (
                    first is None
                    or first.kind is not FrameKind.AUTH
                    or first.payload != self.token.encode()
                ):
                    self.refused.append(b"" if first is None else first.payload)
                    writer.write(encode_frame(error_frame(ErrorCode.UNAUTHORIZED, "bad token")))
                    return
                writer.write(encode_frame(Frame(NO_REQUEST, 0, NO_REQUEST, FrameKind.AUTH_OK)))
            while (frame := await read_frame(reader)) is not None:
                if frame.kind is FrameKind.PING:
                    continue  # keepalive: the real server ignores it too
                self.received.append(frame)
                if frame.kind is FrameKind.CANCEL:
                    self.cancelled.append(frame.request_id)
                elif (frame.kind is FrameKind.TURN and self.turn is not None) or (
                    frame.kind is FrameKind.PARTIAL and self.partial is not None
                ):
                    self._subscribed.setdefault(frame.request_id, [0, 0, True])
                    self._wanted.setdefault(frame.request_id, set()).add(frame.kind)
                elif frame.kind is FrameKind.CHUNK and frame.request_id in self._subscribed:
                    self._judge(frame, writer)
                elif frame.kind in (
                    FrameKind.FINAL,
                    FrameKind.STREAM,
                    FrameKind.SPEAK,
                    FrameKind.BASIC,
                ):
                    task = asyncio.create_task(self._reply(frame, writer))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        except (FrameError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _judge(self, chunk: Frame, writer: asyncio.StreamWriter) -> None:
        state = self._subscribed[chunk.request_id]
        samples = np.frombuffer(chunk.payload, "<i2").astype(np.float64)
        ms = len(samples) * 1000 // chunk.sample_rate
        state[0] += ms
        quiet = samples.size == 0 or float(np.sqrt(np.mean(samples**2))) < 200
        state[1] = state[1] + ms if quiet else 0
        if not quiet:
            state[2] = False
        elif state[1] >= 150 and not state[2]:
            state[2] = True
            for kind in self._wanted.get(chunk.request_id, set()):
                reply = Frame(chunk.device_id, chunk.sample_rate, chunk.request_id, kind)
                reply.payload = self._pause_body(kind, state[0])
                task = asyncio.create_task(self._send_later(writer, reply))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _pause_body(self, kind: FrameKind, audio_ms: int) -> bytes:
        if kind is FrameKind.PARTIAL:
            if isinstance(self.partial, bytes):
                return self.partial
            return PartialTranscript(self.partial or "", audio_ms).to_json()
        if isinstance(self.turn, bytes):
            return self.turn
        return TurnVerdict(bool(self.turn), audio_ms, "test").to_json()

    async def _send_later(self, writer: asyncio.StreamWriter, frame: Frame) -> None:
        await asyncio.sleep(self.turn_delay)
        with contextlib.suppress(ConnectionError):
            writer.write(encode_frame(frame))
            await writer.drain()
            self.partials_sent += frame.kind is FrameKind.PARTIAL

    async def _reply(self, request: Frame, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(self.first_delay)
        audio = reply_tone(self.reply_seconds)
        rid, dev = request.request_id, request.device_id
        with contextlib.suppress(ConnectionError):
            if request.kind is FrameKind.BASIC:
                writer.write(encode_frame(Frame(dev, REPLY_RATE, rid, FrameKind.BASIC, audio)))
                await writer.drain()
                self.completed.append(rid)
                return
            step = int(self.chunk_seconds * REPLY_RATE) * 2
            for start in range(0, len(audio), step):
                if rid in self.cancelled:
                    return
                writer.write(
                    encode_frame(
                        Frame(dev, REPLY_RATE, rid, FrameKind.AUDIO, audio[start : start + step])
                    )
                )
                await writer.drain()
                await asyncio.sleep(self.chunk_seconds * self.pace)
            summary = ReplySummary(transcript="(tone)", reply="a tone", timings={"total_ms": 1.0})
            writer.write(encode_frame(Frame(dev, 0, rid, FrameKind.END, summary.to_json())))
            await writer.drain()
            self.completed.append(rid)

    def requests(self, kind: FrameKind) -> list[Frame]:
        return [f for f in self.received if f.kind is kind]
