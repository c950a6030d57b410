"""Text to speech with Piper, one sentence per call (runs on the TTS worker thread only)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from naila_protocol.settings import setting

from .audio import float_to_pcm16, resample

_LOGGER = logging.getLogger(__name__)


_GROUP = "text to speech (Piper)"


@dataclass(frozen=True, slots=True)
class TtsSettings:
    voice: str | None = setting(
        None,
        env="TTS_VOICE",
        group=_GROUP,
        help="Piper .onnx voice; none = packaged en_US-joe-medium",
    )
    voice_config: str | None = setting(
        None, env="TTS_VOICE_CONFIG", group=_GROUP, help="its .onnx.json (none: voice path + .json)"
    )
    speaker: int | None = setting(None, env="TTS_SPEAKER", group=_GROUP, help="speaker id")
    length_scale: float | None = setting(
        None, env="TTS_LENGTH_SCALE", group=_GROUP, help="speaking slowness (voice default)"
    )
    noise_scale: float | None = None
    noise_w_scale: float | None = None
    sentence_silence_s: float = setting(
        0.0,
        env="TTS_SENTENCE_SILENCE",
        flag="--sentence-silence",
        group=_GROUP,
        help="seconds of silence after each sentence",
    )
    threads: int = setting(
        1, env="TTS_THREADS", group=_GROUP, help="ONNX Runtime threads for Piper (0 = its default)"
    )
    """One thread without spinning was faster for a first clause on 2 shared cores (median
    420 vs 810 ms) and leaves the other cores to the LLM and STT running at the same time."""


class TtsEngine:
    """Loads one Piper voice; synthesizes text to int16 PCM at any rate."""

    def __init__(self, model: Path, config: Path, settings: TtsSettings) -> None:
        import onnxruntime  # noqa: PLC0415 - heavy
        from piper import PiperConfig, PiperVoice, SynthesisConfig  # noqa: PLC0415

        self.settings = settings
        started = time.perf_counter()
        options = onnxruntime.SessionOptions()
        if settings.threads:
            options.intra_op_num_threads = settings.threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._voice = PiperVoice(
            session=onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            ),
            config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))),
        )
        self._config = SynthesisConfig(
            speaker_id=settings.speaker,
            length_scale=settings.length_scale,
            noise_scale=settings.noise_scale,
            noise_w_scale=settings.noise_w_scale,
        )
        self.name = model.name.removesuffix(".onnx")
        _LOGGER.info(
            "TTS loaded %s (%d Hz) in %.0f ms",
            model,
            self.sample_rate,
            (time.perf_counter() - started) * 1e3,
        )

    @property
    def sample_rate(self) -> int:
        """The voice's native rate."""
        return int(self._voice.config.sample_rate)

    def warm_up(self) -> None:
        self.synthesize("Ready.", self.sample_rate)

    def synthesize(self, text: str, rate: int) -> bytes:
        """int16 mono PCM of `text` at `rate` (resampled with soxr when needed)."""
        parts = [chunk.audio_float_array for chunk in self._voice.synthesize(text, self._config)]
        if not parts:
            return b""
        samples = np.concatenate(parts)
        if self.settings.sentence_silence_s > 0:
            silence = np.zeros(int(self.sample_rate * self.settings.sentence_silence_s), np.float32)
            samples = np.concatenate([samples, silence])
        return float_to_pcm16(resample(samples, self.sample_rate, rate))
