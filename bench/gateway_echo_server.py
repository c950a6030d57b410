"""BENCH-ONLY transport echo server speaking the gateway<->AI-server framing.

Not the AI server: it answers every utterance at once with a fixed tone reply, so a bench can
time the gateway's audio path without inference. It timestamps tone onsets in the audio the
gateway forwards (up-link) and the moment each reply is written (down-link).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict

import numpy as np

from bench.gateway_markers import OnsetDetector, tone
from naila_protocol.framing import (
    BYTES_PER_SAMPLE,
    Frame,
    FrameError,
    FrameKind,
    ReplySummary,
    encode_frame,
    read_frame,
)

_LOGGER = logging.getLogger("bench.echo_server")

REPLY_RATE = 22050
REPLY_SECONDS = 0.6
UPSTREAM_FRAME_S = 0.020


class EchoFramingServer:
    """Replies to each utterance with a REPLY_SECONDS tone; records onset times per device."""

    def __init__(self) -> None:
        self.uplink_onsets: dict[str, list[float]] = defaultdict(list)
        self.reply_sent: dict[str, list[float]] = defaultdict(list)
        self.utterances: dict[str, int] = defaultdict(int)
        self.frame_kinds: dict[str, int] = defaultdict(int)
        self._detectors: dict[str, OnsetDetector] = defaultdict(OnsetDetector)
        self._reply = tone(REPLY_SECONDS, REPLY_RATE).astype("<i2").tobytes()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def _note_audio(self, frame: Frame, t_arrival: float) -> None:
        samples = np.frombuffer(frame.payload, dtype="<i2")
        duration = samples.size / frame.sample_rate
        # The gateway forwards a block as soon as its last 20 ms frame is decoded: that frame's
        # first sample is "now", as for a frame leaving a WebRTC decoder (gateway_markers).
        t_first = t_arrival - max(0.0, duration - UPSTREAM_FRAME_S)
        found = self._detectors[frame.device_id].feed(samples, frame.sample_rate, t_first)
        self.uplink_onsets[frame.device_id].extend(found)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                try:
                    frame = await read_frame(reader)
                except FrameError as err:
                    _LOGGER.warning("bad frame from gateway: %s", err)
                    return
                if frame is None:
                    return
                await self._handle(frame, writer)
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._conns.discard(task)
            writer.close()

    async def _handle(self, frame: Frame, writer: asyncio.StreamWriter) -> None:
        now = time.monotonic()
        self.frame_kinds[frame.kind.value or "basic"] += 1
        kind = frame.kind
        if kind is FrameKind.AUTH:
            writer.write(encode_frame(Frame("-", 0, "-", FrameKind.AUTH_OK)))
            await writer.drain()
            return
        audio_in = (FrameKind.BASIC, FrameKind.STREAM, FrameKind.CHUNK, FrameKind.FINAL)
        if kind in audio_in and len(frame.payload) >= BYTES_PER_SAMPLE:
            self._note_audio(frame, now)
        if kind in (FrameKind.BASIC, FrameKind.STREAM, FrameKind.FINAL, FrameKind.SPEAK):
            self.utterances[frame.device_id] += 1
            await self._reply_to(frame, writer, streamed=kind is not FrameKind.BASIC)

    async def _reply_to(
        self, frame: Frame, writer: asyncio.StreamWriter, *, streamed: bool
    ) -> None:
        kind = FrameKind.AUDIO if streamed else FrameKind.BASIC
        self.reply_sent[frame.device_id].append(time.monotonic())
        writer.write(
            encode_frame(Frame(frame.device_id, REPLY_RATE, frame.request_id, kind, self._reply))
        )
        if streamed:
            summary = ReplySummary(transcript="(bench tone)", reply="(bench echo tone)")
            writer.write(
                encode_frame(
                    Frame(
                        frame.device_id,
                        REPLY_RATE,
                        frame.request_id,
                        FrameKind.END,
                        summary.to_json(),
                    )
                )
            )
        await writer.drain()
