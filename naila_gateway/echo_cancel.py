"""WebRTC AEC3 on one device's microphone, with what the gateway played to it as the far end.

`aec-audio-processing` (the WebRTC audio-processing library, AEC3) runs in 10 ms blocks;
echo cancellation only (no noise suppression, no gain control: the VAD and the speech
recognizer get the level the device sent). AEC3 estimates the echo path's delay itself, over
a span of about half a second: the reference is fed `reference_delay_s` after it was played
(network out, device buffers, network in: no echo comes back sooner), which moves that span
to where the echo is. Measured by bench/echo_barge_in.py: ≈ 0.12 ms of CPU per 20 ms frame
(render and capture), so it runs inline.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from naila_gateway.pcm import WEBRTC_RATE

BLOCK = WEBRTC_RATE // 100
"""AEC3 processes 10 ms blocks."""
MAX_PENDING_S = 2.0
"""Played audio kept for the canceller while no microphone frame arrives."""


def processor_class() -> Any:
    """aec_audio_processing.AudioProcessor; ValueError naming the package when it cannot load."""
    try:
        from aec_audio_processing import AudioProcessor  # noqa: PLC0415 - optional native library
    except (ImportError, OSError) as err:
        raise ValueError(
            "AUDIO_ECHO=cancel needs the aec-audio-processing package (WebRTC AEC3), which "
            f"failed to load: {err}. Install the gateway requirements or use AUDIO_ECHO=suppress"
        ) from err
    return AudioProcessor


def _load_processor() -> Any:
    processor = processor_class()(
        enable_aec=True, enable_ns=False, enable_agc=False, enable_vad=False
    )
    processor.set_stream_format(WEBRTC_RATE, 1)
    processor.set_reverse_stream_format(WEBRTC_RATE, 1)
    return processor


class EchoCanceller:
    """One device's AEC3: `played` frames are the far end, `cancel` cleans microphone frames."""

    def __init__(self, reference_delay_s: float) -> None:
        self._processor = _load_processor()
        self._delay = reference_delay_s
        self._pending: deque[tuple[float, bytes]] = deque()

    def played(self, frame: np.ndarray, at: float | None = None) -> None:
        """The 20 ms frame (48 kHz int16) just handed to WebRTC for this device."""
        now = time.perf_counter() if at is None else at
        self._pending.append((now, frame.astype("<i2").tobytes()))
        while self._pending and self._pending[0][0] < now - MAX_PENDING_S:
            self._pending.popleft()

    def cancel(self, frame: np.ndarray, at: float | None = None) -> np.ndarray:
        """The microphone frame without the echo of what was played (int16, same length)."""
        now = time.perf_counter() if at is None else at
        processor = self._processor
        while self._pending and self._pending[0][0] + self._delay <= now:
            reference = self._pending.popleft()[1]
            for start in range(0, len(reference), 2 * BLOCK):
                processor.process_reverse_stream(reference[start : start + 2 * BLOCK])
        raw = frame.astype("<i2").tobytes()
        whole = len(raw) // (2 * BLOCK) * 2 * BLOCK  # a partial block (never from Opus) passes
        cleaned = b"".join(
            processor.process_stream(raw[start : start + 2 * BLOCK])
            for start in range(0, whole, 2 * BLOCK)
        )
        return np.frombuffer(cleaned + raw[whole:], dtype="<i2").astype(np.int16)
