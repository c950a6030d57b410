"""End of turn at a pause: the speculative transcript's text rules and Smart Turn v3.2.

Smart Turn v3.2 (Pipecat's open end-of-turn model, BSD-2) ships as an ONNX file inside the
`pipecat-ai` wheel (installed without its dependencies: only the file is read). Its input
is the Whisper log-mel of the last 8 s (`log_mel.py`); its output the probability that the
speaker has finished. The decision (`TurnDetector.decide`) weighs both signals as measured by
`bench/end_of_turn.py`: the text says "wait" -> wait; a whole command -> end; otherwise the
model's probability against a threshold.
"""

from __future__ import annotations

import asyncio
import enum
import importlib.util
import logging
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from naila_protocol.framing import TurnVerdict
from naila_protocol.settings import setting

from .log_mel import log_mel
from .models import ModelNotFoundError
from .turn_text import TextTurn, classify

_LOGGER = logging.getLogger(__name__)

SMART_TURN_PACKAGE = "pipecat-ai"
SMART_TURN_VERSION = "1.14.0"
SMART_TURN_FILE = "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
SMART_TURN_SECONDS = 8.0


_GROUP = "end of turn (Smart Turn)"


class TurnSignals(enum.StrEnum):
    """Which signals decide (bench/end_of_turn.py measures each)."""

    TEXT = "text"
    """Text rules only; a neutral clause counts as finished."""
    AUDIO = "audio"
    """Smart Turn only."""
    TEXT_AUDIO = "text+audio"
    """Text rules first, Smart Turn for neutral clauses."""


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """Server side of the semantic end of turn (verdicts sent in TURN frames)."""

    enabled: bool = setting(
        True,
        env="TURN_ENABLED",
        flag="--turn",
        group=_GROUP,
        help="judge pauses of chunked utterances for gateways that ask (TURN frames)",
    )
    signals: TurnSignals = setting(
        TurnSignals.TEXT_AUDIO,
        env="TURN_SIGNALS",
        group=_GROUP,
        choices=list(TurnSignals),
        parse=TurnSignals,
        help="which signals decide: text rules, Smart Turn, or text rules then Smart Turn",
    )
    threshold: float = setting(
        0.5,
        env="TURN_THRESHOLD",
        group=_GROUP,
        help="Smart Turn probability at or above which a neutral clause is finished",
    )
    model: str | None = setting(
        None,
        env="TURN_MODEL",
        group=_GROUP,
        help="Smart Turn ONNX file (none: the one inside the pipecat-ai package)",
    )


def smart_turn_file(override: str | Path | None = None) -> Path:
    """The ONNX file, located without importing pipecat; ModelNotFoundError names the package."""
    if override:
        path = Path(override)
        if not path.is_file():
            raise ModelNotFoundError(f"Smart Turn model not found at {path}")
        return path
    spec = importlib.util.find_spec("pipecat")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / SMART_TURN_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"Smart Turn model missing: pip install --no-deps {SMART_TURN_PACKAGE}=={SMART_TURN_VERSION}"
    )


class SmartTurnModel:
    """One ONNX Runtime session on one thread; `probability()` blocks (run it in an executor)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort  # noqa: PLC0415  (only processes that use it pay the import)

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelNotFoundError(
                f"Smart Turn model {path} is unreadable ({type(err).__name__}): reinstall "
                f"{SMART_TURN_PACKAGE}=={SMART_TURN_VERSION} --no-deps"
            ) from err
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    def probability(self, samples: np.ndarray) -> float:
        """P(turn finished) for float32 16 kHz audio ending at the pause."""
        features = log_mel(samples, SMART_TURN_SECONDS)[None, :, :]
        with self._lock:
            (output,) = self._session.run(None, {self._input: features})[:1]
        return float(np.asarray(output).reshape(-1)[0])


class TurnDetector:
    """Combines text rules and Smart Turn; a model failure disables it with one warning."""

    def __init__(self, settings: TurnSettings, model: SmartTurnModel | None = None) -> None:
        self.settings = settings
        self.model = model
        self._failed = False

    @classmethod
    def load(cls, settings: TurnSettings) -> TurnDetector:
        """Load the model when the signals need it (ModelNotFoundError when it cannot be)."""
        needs_model = settings.signals is not TurnSignals.TEXT
        model = SmartTurnModel(smart_turn_file(settings.model)) if needs_model else None
        return cls(settings, model)

    @property
    def needs_audio(self) -> bool:
        return self.model is not None and not self._failed

    def audio_probability(self, samples: np.ndarray) -> float | None:
        """Smart Turn's probability, or None once the model has failed (warned once)."""
        if self.model is None or self._failed:
            return None
        try:
            return self.model.probability(samples)
        except Exception as err:
            self._failed = True
            _LOGGER.warning(
                "Smart Turn failed (%s: %s): fixed hang-over from now on", type(err).__name__, err
            )
            return None

    def decide(
        self,
        transcript: str,
        probability: float | None,
        audio_ms: int,
        signals: TurnSignals | None = None,
    ) -> TurnVerdict:
        """The verdict for the pause after `audio_ms` of audio (complete None = don't know);
        `signals` overrides TURN_SIGNALS (a gateway that runs Smart Turn itself asks for text)."""
        signals = signals or self.settings.signals
        text = classify(transcript)
        if signals is not TurnSignals.AUDIO and text is TextTurn.INCOMPLETE:
            return TurnVerdict(False, audio_ms, "text_incomplete", probability)
        if signals is not TurnSignals.AUDIO and text is TextTurn.COMMAND:
            return TurnVerdict(True, audio_ms, "text_command", probability)
        if signals is TurnSignals.TEXT:
            if text is TextTurn.EMPTY:
                return TurnVerdict(None, audio_ms, "text_empty", None)
            return TurnVerdict(True, audio_ms, "text_clause", None)
        if probability is None:
            return TurnVerdict(None, audio_ms, "model_unavailable", None)
        complete = probability >= self.settings.threshold
        return TurnVerdict(complete, audio_ms, "audio", probability)


async def judge_pause(
    detector: TurnDetector,
    transcript: Awaitable[str],
    samples: np.ndarray,
    audio_ms: int,
    *,
    signals: TurnSignals | None = None,
) -> TurnVerdict:
    """Smart Turn (in an executor) alongside the speculative transcript, then the verdict."""
    signals = signals or detector.settings.signals
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def probability() -> float | None:
        p = detector.audio_probability(samples)
        timings["model_ms"] = round((time.perf_counter() - started) * 1e3, 1)
        return p

    model: asyncio.Future[float | None] | None = None
    if detector.needs_audio and signals is not TurnSignals.TEXT:
        model = asyncio.get_running_loop().run_in_executor(None, probability)
    text = ""
    try:
        if signals is not TurnSignals.AUDIO:
            text = await transcript
            timings["text_ms"] = round((time.perf_counter() - started) * 1e3, 1)
    finally:
        p = await model if model is not None else None
    verdict = detector.decide(text, p, audio_ms, signals)
    verdict.transcript = text
    verdict.timings = timings
    return verdict
