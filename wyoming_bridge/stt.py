"""Speech to text with faster-whisper (runs on the STT worker thread only)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import STT_RATE, peak_window_dbfs

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class SttSettings:
    model: str | None = None
    """CTranslate2 Whisper model directory; None = packaged tiny.en."""
    device: str = "cpu"
    compute_type: str = "int8"
    language: str | None = "en"
    beam_size: int = 1
    cpu_threads: int = 0
    """0 = CTranslate2 default."""
    silence_dbfs: float = -50.0
    """Utterances whose loudest 50 ms stay below this are treated as silence (no STT run)."""
    no_speech_threshold: float = 0.6
    """Segments Whisper rates more likely than this to hold no speech are dropped."""
    vad_filter: bool = False
    """faster-whisper's Silero VAD; off for short utterances (costs latency)."""


class SttEngine:
    """Loads one WhisperModel and transcribes 16 kHz float audio."""

    def __init__(self, model_dir: Path, settings: SttSettings) -> None:
        from faster_whisper import WhisperModel  # noqa: PLC0415 - heavy, only when an engine is built

        self.settings = settings
        started = time.perf_counter()
        self._model = WhisperModel(
            str(model_dir),
            device=settings.device,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
            local_files_only=True,
        )
        _LOGGER.info(
            "STT loaded %s (%s, %s) in %.0f ms",
            model_dir,
            settings.device,
            settings.compute_type,
            (time.perf_counter() - started) * 1e3,
        )

    def warm_up(self) -> None:
        """Run one transcription so the first real request is not slower."""
        rng = np.random.default_rng(0)
        self._run(rng.normal(0, 0.05, STT_RATE).astype(np.float32), self.settings.language)

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> str:
        """Text of 16 kHz mono float audio; '' for silence or noise."""
        if samples.size < STT_RATE // 10:
            return ""
        if peak_window_dbfs(samples, STT_RATE) < self.settings.silence_dbfs:
            _LOGGER.debug("utterance below %.0f dBFS: silence", self.settings.silence_dbfs)
            return ""
        return self._run(samples, language or self.settings.language)

    def _run(self, samples: np.ndarray, language: str | None) -> str:
        segments, _info = self._model.transcribe(
            samples,
            language=language,
            beam_size=self.settings.beam_size,
            best_of=1,
            temperature=0.0,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=self.settings.vad_filter,
        )
        kept = []
        for segment in segments:
            if segment.no_speech_prob > self.settings.no_speech_threshold:
                _LOGGER.debug(
                    "dropped segment %r (no_speech %.2f)", segment.text, segment.no_speech_prob
                )
                continue
            kept.append(segment.text.strip())
        return _drop_non_speech(" ".join(part for part in kept if part))


_NON_SPEECH_MARKERS = ("[", "(", "*")


def _drop_non_speech(text: str) -> str:
    """Whisper marks noise as '[BLANK_AUDIO]', '(music)', '*cough*': treat those as empty."""
    stripped = text.strip()
    if not stripped:
        return ""
    if stripped[0] in _NON_SPEECH_MARKERS and stripped[-1] in "])*":
        return ""
    if not any(ch.isalnum() for ch in stripped):
        return ""
    return stripped
