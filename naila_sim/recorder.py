"""What the simulated device hears: every received frame with its arrival time."""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from naila_protocol.tasks import TaskSet

RATE = 48000
VOICED_RMS = 100.0
"""RMS above which a received frame counts as sound (Opus silence decodes to ~0)."""


class Recorder:
    """Drains a received audio track into memory (mono 48 kHz) with per-frame timestamps.

    Frame indices are absolute since attach; `forget_before(index)` releases older audio so a
    long-running device keeps only what it still needs.
    """

    def __init__(self) -> None:
        self._frames: list[np.ndarray] = []
        self._times: list[float] = []
        self._rms: list[float] = []
        self._dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._tasks = TaskSet()
        """The draining task and the ones detach() stopped, awaited by close()."""
        self._new_frame = asyncio.Event()
        self.on_frame: Callable[[np.ndarray, float], None] | None = None
        """Called with (samples, arrival time) of every frame (a speaker feeding an echo)."""

    def attach(self, track: MediaStreamTrack) -> None:
        self.detach()
        self._task = self._tasks.spawn(self._run(track), name="sim recorder")

    def detach(self) -> None:
        """Stop draining the current track (a new session's track replaces it)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """Stop draining and wait until every draining task has ended."""
        self._task = None
        await self._tasks.close()

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
                self._frames.append(mono)
                self._times.append(time.perf_counter())
                if self.on_frame is not None:
                    self.on_frame(mono, self._times[-1])
                self._rms.append(float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))))
                self._new_frame.set()

    def mark(self) -> int:
        """Index of the next frame to arrive (to look only at audio heard after now)."""
        return self._dropped + len(self._frames)

    def time_of(self, index: int) -> float:
        """perf_counter() time at which frame `index` arrived."""
        return self._times[index - self._dropped]

    def forget_before(self, index: int) -> None:
        """Release the audio of frames before `index`."""
        cut = max(0, min(index - self._dropped, len(self._frames)))
        del self._frames[:cut], self._times[:cut], self._rms[:cut]
        self._dropped += cut

    def first_voiced(self, since: int = 0) -> int | None:
        for index in range(max(since, self._dropped), self.mark()):
            if self._rms[index - self._dropped] > VOICED_RMS:
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
                for index in range(max(since, self._dropped), self.mark()):
                    run = run + 1 if self._rms[index - self._dropped] <= VOICED_RMS else 0
                    if run >= frames:
                        return index - frames + 1
                self._new_frame.clear()
                await self._new_frame.wait()

    def _slice(self, start: int, end: int | None) -> slice:
        low = max(start - self._dropped, 0)
        return slice(low, None if end is None else max(end - self._dropped, low))

    def voiced_seconds(self, start: int, end: int | None = None) -> float:
        selected = self._rms[self._slice(start, end)]
        return sum(1 for value in selected if value > VOICED_RMS) * 0.02

    def audio(self, start: int = 0, end: int | None = None) -> np.ndarray:
        chunk = self._frames[self._slice(start, end)]
        return np.concatenate(chunk) if chunk else np.zeros(0, dtype=np.int16)

    def save_wav(self, path: str | Path, start: int = 0, end: int | None = None) -> None:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(self.audio(start, end).tobytes())
