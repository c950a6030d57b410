"""Wake word detection on a device's microphone: microWakeWord models from pymicro-wakeword."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soxr

from naila_gateway.pcm import WEBRTC_RATE
from naila_protocol.vocab import WakeWord

if TYPE_CHECKING:
    from pymicro_wakeword import MicroWakeWord

MODEL_RATE = 16000
COOLDOWN_SECONDS = 1.0
"""After a detection the model's averaged probability stays high for a while: one wake per word."""


@dataclass(frozen=True, slots=True)
class Tuning:
    """How a model's probabilities make a detection: their mean over a window, above a cutoff."""

    window: int
    """Probabilities averaged (one per 30 ms)."""
    cutoff: float


TUNINGS: dict[WakeWord, Tuning] = {WakeWord.OKAY_NABU: Tuning(window=15, cutoff=0.42)}
"""Measured by bench/wake_word.py (bench/README.md): okay_nabu's own 5 x 0.85 misses voices the
model is less sure of (its probability stays at 0.6-0.75 for half a second); a 450 ms mean above
0.42 hears them and still stays below 0.33 on 30 minutes of speech without the wake word.
Models not listed keep their own window and cutoff."""


def load_model(model: WakeWord) -> MicroWakeWord:
    """The packaged model with its tuning (TUNINGS) or its own window and cutoff."""
    # Imported on use: its TFLite library is only loaded by gateways that listen for one.
    import pymicro_wakeword  # noqa: PLC0415
    from pymicro_wakeword import MicroWakeWord, Model  # noqa: PLC0415

    tuning = TUNINGS.get(model)
    package = Path(pymicro_wakeword.__file__).parent
    library = next((package / "lib").glob("*tensorflowlite_c.*"), None)
    if tuning is None or library is None:
        return MicroWakeWord.from_builtin(Model(model.value))
    config = json.loads((package / "models" / f"{model.value}.json").read_text())
    return MicroWakeWord(
        model.value,
        wake_word=config["wake_word"],
        tflite_model=package / "models" / config["model"],
        probability_cutoff=tuning.cutoff,
        sliding_window_size=tuning.window,
        trained_languages=config.get("trained_languages", []),
        libtensorflowlite_c_path=library,
    )


class Downsampler:
    """48 kHz frames to the model's 16 kHz (soxr stream: ≈ 10 µs per frame, runs inline)."""

    def __init__(self) -> None:
        self._stream = soxr.ResampleStream(WEBRTC_RATE, MODEL_RATE, 1, dtype="int16", quality="LQ")

    def process(self, frame: np.ndarray) -> np.ndarray:
        return np.asarray(self._stream.resample_chunk(frame), dtype=np.int16)


class WakeWordDetector:
    """One model and one feature frontend for one device stream (one caller at a time)."""

    def __init__(self, model: WakeWord) -> None:
        from pymicro_wakeword import MicroWakeWordFeatures  # noqa: PLC0415

        self.model = model
        self._mww = load_model(model)
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
