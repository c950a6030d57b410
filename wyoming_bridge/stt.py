"""Speech to text with faster-whisper (runs on the STT worker thread only)."""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from naila_protocol.settings import setting

from .audio import STT_RATE, peak_window_dbfs

_LOGGER = logging.getLogger(__name__)


_GROUP = "speech to text (faster-whisper)"


@dataclass(frozen=True, slots=True)
class SttSettings:
    model: str | None = setting(
        None,
        env="STT_MODEL",
        group=_GROUP,
        help="tiny.en (packaged, default), base (packaged Whisper base) or a CTranslate2 model dir",
    )
    device: str = setting("cpu", env="STT_DEVICE", group=_GROUP, help="cpu or cuda")
    compute_type: str = setting(
        "int8", env="STT_COMPUTE_TYPE", group=_GROUP, help="CTranslate2 compute type"
    )
    language: str | None = setting(
        "en", env="STT_LANGUAGE", group=_GROUP, help="spoken language; empty = detect"
    )
    beam_size: int = setting(1, env="STT_BEAM_SIZE", group=_GROUP, help="decoder beam size")
    cpu_threads: int = setting(
        0,
        env="STT_THREADS",
        flag="--stt-threads",
        group=_GROUP,
        help="CPU threads (0 = CTranslate2 default)",
    )
    silence_dbfs: float = -50.0
    """Utterances whose loudest 50 ms stay below this are treated as silence (no STT run)."""
    no_speech_threshold: float = 0.6
    """Segments Whisper rates more likely than this to hold no speech are dropped."""
    vad_filter: bool = setting(
        False,
        env="STT_VAD_FILTER",
        group=_GROUP,
        help="run faster-whisper's Silero VAD (costs latency on short utterances)",
    )
    short_window: bool = True
    """Encode short utterances in a window sized to the audio instead of Whisper's fixed 30 s.

    CTranslate2 accepts shorter encoder inputs; a 10 s window cuts the encoder's work ~4x
    for commands with the same transcripts (whisper.cpp's `audio_ctx` does the same). A
    decode that looks repetitive is redone with the full window.
    """
    min_window_s: float = 10.0
    """Smallest encoder window when `short_window` is on (shorter ones start to loop)."""
    window_padding_s: float = 1.0
    """Silence kept after the speech inside the window."""
    lead_in_s: float = 0.3
    """Silence put before the audio: Whisper often drops a first word that starts at once
    (measured by bench/wer_path.py); free within the short window."""


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
        """Run one transcription so the first real request is not slower.

        One second of noise through the short window requests take (its token budget keeps
        it short; the 30 s window on noise decodes a long hallucination: seconds).
        """
        noise = np.random.default_rng(0).normal(0, 0.05, STT_RATE).astype(np.float32)
        language = self.settings.language
        if self.settings.short_window and (language or not self._model.model.is_multilingual):
            self._run_short(noise, language)
        else:
            self._run(noise, language)

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> str:
        """Text of 16 kHz mono float audio; '' for silence or noise."""
        if samples.size < STT_RATE // 10:
            return ""
        if peak_window_dbfs(samples, STT_RATE) < self.settings.silence_dbfs:
            _LOGGER.debug("utterance below %.0f dBFS: silence", self.settings.silence_dbfs)
            return ""
        language = language or self.settings.language
        if self.settings.lead_in_s > 0:
            lead = np.zeros(int(self.settings.lead_in_s * STT_RATE), dtype=np.float32)
            samples = np.concatenate((lead, samples.astype(np.float32, copy=False)))
        if self.settings.short_window and (language or not self._model.model.is_multilingual):
            text = self._run_short(samples, language)
            if text is not None:
                return text
        return self._run(samples, language)

    def _run_short(self, samples: np.ndarray, language: str | None) -> str | None:
        """Greedy/beam decode of one window sized to the audio; None if it needs > 30 s."""
        import ctranslate2  # noqa: PLC0415 - comes with faster-whisper
        from faster_whisper.tokenizer import Tokenizer  # noqa: PLC0415

        extractor = self._model.feature_extractor
        features = extractor(samples)
        frames = features.shape[-1]
        frames_per_s = extractor.sampling_rate // extractor.hop_length
        window = max(
            frames + int(self.settings.window_padding_s * frames_per_s),
            int(self.settings.min_window_s * frames_per_s),
        )
        if window > extractor.nb_max_frames:
            return None
        padded = np.zeros((features.shape[0], window), dtype=np.float32)
        padded[:, :frames] = features
        tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            self._model.model.is_multilingual,
            task="transcribe",
            language=language or "en",
        )
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(padded[None]), to_cpu=False
        )
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        # Speech stays under ~8 tokens/s; a decode that runs past that is looping.
        budget = int(samples.size / extractor.sampling_rate * 8) + 8
        result = self._model.model.generate(
            encoded,
            [prompt],
            beam_size=self.settings.beam_size,
            max_length=len(prompt) + budget,
            return_no_speech_prob=True,
            suppress_blank=True,
        )[0]
        if result.no_speech_prob > self.settings.no_speech_threshold:
            _LOGGER.debug("no speech (%.2f)", result.no_speech_prob)
            return ""
        tokens = [token for token in result.sequences_ids[0] if token < tokenizer.eot]
        text = tokenizer.decode(tokens)
        if (
            len(tokens) >= budget
            or _compression_ratio(text) > COMPRESSION_RATIO_LIMIT
            or _repeats(text)
        ):
            _LOGGER.debug("short window decode looks repetitive, using the 30 s window: %r", text)
            return None
        return _drop_non_speech(text)

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
COMPRESSION_RATIO_LIMIT = 2.4
"""Whisper's own threshold for repetitive (hallucinated) text."""


def _repeats(text: str) -> bool:
    """True if the text starts with a phrase of 2+ words said twice in a row (a decode loop)."""
    words = [word.strip(".,!?").lower() for word in text.split()]
    return any(words[:size] == words[size : 2 * size] for size in range(2, len(words) // 2 + 1))


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data))) if data else 0.0


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
