"""Wake word detection on a device's microphone: microWakeWord models from pymicro-wakeword."""

from __future__ import annotations

import numpy as np
import soxr

from naila_gateway.pcm import WEBRTC_RATE
from naila_protocol.vocab import WakeWord

MODEL_RATE = 16000
COOLDOWN_SECONDS = 1.0
"""After a detection the model's averaged probability stays high for a while: one wake per word."""


class Downsampler:
    """48 kHz frames to the model's 16 kHz (soxr stream: ≈ 10 µs per frame, runs inline)."""

    def __init__(self) -> None:
        self._stream = soxr.ResampleStream(WEBRTC_RATE, MODEL_RATE, 1, dtype="int16", quality="LQ")

    def process(self, frame: np.ndarray) -> np.ndarray:
        return np.asarray(self._stream.resample_chunk(frame), dtype=np.int16)


class WakeWordDetector:
    """One model and one feature frontend for one device stream (one caller at a time)."""

    def __init__(self, model: WakeWord) -> None:
        # Imported on use: its TFLite library is only loaded by gateways that listen for one.
        from pymicro_wakeword import (  # noqa: PLC0415
            MicroWakeWord,
            MicroWakeWordFeatures,
            Model,
        )

        self.model = model
        self._mww = MicroWakeWord.from_builtin(Model(model.value))
        self._features = MicroWakeWordFeatures()
        self._cooldown = 0
        """16 kHz samples left during which a detection is not reported again."""

    def process(self, pcm: bytes) -> int | None:
        """16 kHz int16 audio; the sample offset in it where the wake word was detected, or None."""
        found: int | None = None
        offset = 0
        for features in self._features.process_streaming(pcm):
            offset += 160  # one feature window per 10 ms
            if self._mww.process_streaming(features) and self._cooldown <= 0 and found is None:
                found = min(offset, len(pcm) // 2)
                self._cooldown = int(COOLDOWN_SECONDS * MODEL_RATE) + (len(pcm) // 2 - found)
        self._cooldown -= len(pcm) // 2
        return found

    def close(self) -> None:
        """Free the TFLite interpreter now rather than at garbage collection."""
        self._mww.close()
