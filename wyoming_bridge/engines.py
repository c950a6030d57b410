"""Load the three engines once, each with its own worker thread, and warm them up."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .llm import LlmEngine, LlmSettings
from .models import resolve_models
from .runner import EngineRunner
from .stt import SttEngine, SttSettings
from .tts import TtsEngine, TtsSettings

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class RunnerSettings:
    queue_limit: int = 32
    """Jobs waiting per engine before new requests are refused as busy."""
    timeout_s: float = 30.0
    """Longest a job may wait and run."""


@dataclass(slots=True)
class Engines:
    """Loaded engines and the worker thread that runs each."""

    stt: SttEngine
    llm: LlmEngine
    tts: TtsEngine
    stt_runner: EngineRunner
    llm_runner: EngineRunner
    tts_runner: EngineRunner

    def close(self) -> None:
        for runner in (self.stt_runner, self.llm_runner, self.tts_runner):
            runner.close()


def load_engines(
    stt: SttSettings,
    llm: LlmSettings,
    tts: TtsSettings,
    runners: RunnerSettings | None = None,
    warm_up: bool = True,
) -> Engines:
    """Resolve model paths, load and warm up every engine (blocking; seconds)."""
    runners = runners or RunnerSettings()
    paths = resolve_models(stt.model, llm.model, tts.voice, tts.voice_config)
    started = time.perf_counter()
    engines = Engines(
        stt=SttEngine(paths.whisper_dir, stt),
        llm=LlmEngine(paths.llm_file, llm),
        tts=TtsEngine(paths.piper_model, paths.piper_config, tts),
        stt_runner=EngineRunner("stt", runners.queue_limit, runners.timeout_s),
        llm_runner=EngineRunner("llm", runners.queue_limit, runners.timeout_s),
        tts_runner=EngineRunner("tts", runners.queue_limit, runners.timeout_s),
    )
    if warm_up:
        engines.stt.warm_up()
        engines.llm.warm_up()
        engines.tts.warm_up()
    _LOGGER.info("engines ready in %.1f s", time.perf_counter() - started)
    return engines
