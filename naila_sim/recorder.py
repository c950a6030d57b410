"""What the simulated device hears: every received frame with its arrival time."""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from pathlib import Path

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

RATE = 48000
VOICED_RMS = 100.0
"""RMS above which a received frame counts as sound (Opus silence decodes to ~0)."""


class Recorder:
    """Drains a received audio track into memory (mono 48 kHz) with per-frame timestamps."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.rms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._new_frame = asyncio.Event()

    def attach(self, track: MediaStreamTrack) -> None:
        self.detach()
        self._task = asyncio.ensure_future(self._run(track))

    def detach(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                data = frame.to_ndarray().reshape(-1)  # type: ignore[union-attr]
                channels = len(frame.layout.channels)  # type: ignore[union-attr]
                mono = (
                    data.reshape(-1, channels).mean(axis=1).astype(np.int16)
                    if channels > 1
                    else data
                )
                self.frames.append(mono)
                self.times.append(time.perf_counter())
                self.rms.append(float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))))
                self._new_frame.set()

    def mark(self) -> int:
        """Index of the next frame to arrive (to look only at audio heard after now)."""
        return len(self.frames)

    def first_voiced(self, since: int = 0) -> int | None:
        for index in range(since, len(self.rms)):
            if self.rms[index] > VOICED_RMS:
                return index
        return None

    async def wait_voiced(self, since: int = 0, within: float = 30.0) -> int:
        """Index of the first voiced frame at or after `since`."""
        async with asyncio.timeout(within):
            while True:
                index = self.first_voiced(since)
                if index is not None:
                    return index
                self._new_frame.clear()
                await self._new_frame.wait()

    async def wait_quiet(self, since: int, frames: int = 25, within: float = 60.0) -> int:
        """Index where `frames` consecutive silent frames start (the reply finished)."""
        async with asyncio.timeout(within):
            while True:
                run = 0
                for index in range(since, len(self.rms)):
                    run = run + 1 if self.rms[index] <= VOICED_RMS else 0
                    if run >= frames:
                        return index - frames + 1
                self._new_frame.clear()
                await self._new_frame.wait()

    def voiced_seconds(self, start: int, end: int | None = None) -> float:
        selected = self.rms[start:end]
        return sum(1 for value in selected if value > VOICED_RMS) * 0.02

    def audio(self, start: int = 0, end: int | None = None) -> np.ndarray:
        chunk = self.frames[start:end]
        return np.concatenate(chunk) if chunk else np.zeros(0, dtype=np.int16)

    def save_wav(self, path: str | Path, start: int = 0, end: int | None = None) -> None:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(self.audio(start, end).tobytes())
