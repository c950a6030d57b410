"""The simulated microphone: queued PCM sent as 20 ms frames on an absolute clock."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from naila_sim.echo import EchoPath

RATE = 48000
FRAME = 960
TIME_BASE = fractions.Fraction(1, RATE)
VOICED_RMS = 100.0
"""Frames quieter than this (RMS) are trailing silence, not the end of speech."""


class MicTrack(MediaStreamTrack):
    """Plays queued 48 kHz mono int16 audio, silence otherwise, one frame per 20 ms."""

    kind = "audio"

    def __init__(self, echo: EchoPath | None = None) -> None:
        super().__init__()
        self.echo = echo
        """When set, the microphone also hears the device's own speaker (and the room)."""
        self._frames: deque[np.ndarray] = deque()
        self._start: float | None = None
        self._index = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self.first_voiced_sent_at: float | None = None
        """perf_counter() when the first audible frame of the last queued audio left."""
        self._onset_pending = False
        self.onset_sent = asyncio.Event()
        """Set once the first audible frame of the last queued audio has left."""
        self.last_voiced_sent_at: float | None = None
        """perf_counter() when the last audible queued frame left (the end of what was said)."""

    def queue(self, samples: np.ndarray) -> None:
        """Queue 48 kHz mono int16 samples (padded to whole frames)."""
        pad = (-samples.size) % FRAME
        padded = np.concatenate((samples.astype(np.int16), np.zeros(pad, dtype=np.int16)))
        self._frames.extend(padded.reshape(-1, FRAME))
        self._drained.clear()
        self._onset_pending = True
        self.onset_sent.clear()

    def clear(self) -> None:
        self._frames.clear()
        self._drained.set()

    async def wait_drained(self) -> float | None:
        """Wait until everything queued was sent; returns last_voiced_sent_at."""
        await self._drained.wait()
        return self.last_voiced_sent_at

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        deadline = self._start + self._index * FRAME / RATE
        if deadline > now:
            await asyncio.sleep(deadline - now)
        elif now - deadline > 0.1:
            self._start, self._index = now, 0
        popped = bool(self._frames)
        samples = self._frames.popleft() if popped else np.zeros(FRAME, dtype=np.int16)
        if popped and np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > VOICED_RMS:
            self.last_voiced_sent_at = time.perf_counter()
            if self._onset_pending:
                self._onset_pending = False
                self.first_voiced_sent_at = self.last_voiced_sent_at
                self.onset_sent.set()
        if not self._frames:
            self._drained.set()
        if self.echo is not None:
            mixed = samples.astype(np.float64) + self.echo.take(time.perf_counter())
            samples = np.clip(mixed, -32768, 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._index * FRAME
        frame.time_base = TIME_BASE
        self._index += 1
        return frame
