"""Build the vision service from its settings and connect it to the server's engines."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from wyoming_bridge.llm import build_messages

from .analysis import Analyzer, OcrReader
from .config import VisionConfig
from .models import build_detector
from .service import VisionService
from .store import MediaStore
from .uploads import Answerer, Transcriber

if TYPE_CHECKING:
    from wyoming_bridge.engines import Engines
    from wyoming_bridge.llm import LlmEngine
    from wyoming_bridge.runner import EngineRunner
    from wyoming_bridge.stt import SttEngine

_LOGGER = logging.getLogger(__name__)
VISION_CLIENT = "vision"
"""Fairness key of vision jobs in the STT/LLM runners."""


def build_vision_service(
    config: VisionConfig,
    *,
    transcriber: Transcriber | None = None,
    answerer: Answerer | None = None,
) -> VisionService:
    """Load detector models (blocking, ~1 s), OCR lazily, the media store if a data dir is set."""
    detector = build_detector(
        config.models, confidence=config.confidence, iou=config.iou, threads=config.threads
    )
    ocr = OcrReader() if config.ocr != "off" else None
    store = (
        MediaStore(
            config.data_dir,
            retention_days=config.retention_days,
            max_bytes=config.retention_max_bytes,
        )
        if config.data_dir
        else None
    )
    return VisionService(
        config, Analyzer(detector, ocr), store=store, transcriber=transcriber, answerer=answerer
    )


def engine_transcriber(stt: SttEngine, runner: EngineRunner) -> Transcriber:
    """Uploaded audio goes through the server's own STT engine and worker thread."""

    async def transcribe(samples: np.ndarray) -> str:
        return await runner.run(VISION_CLIENT, lambda: stt.transcribe(samples))

    return transcribe


def engine_answerer(llm: LlmEngine, runner: EngineRunner) -> Answerer:
    """Upload questions are answered by the server's LLM with the visual context attached."""

    async def answer(question: str, context: str | None) -> str:
        messages = build_messages(llm.settings.system_prompt, [], question, context)
        return await runner.run(VISION_CLIENT, lambda: llm.complete(messages))

    return answer


def wire_vision(config: VisionConfig, engines: Engines | None) -> VisionService | None:
    """The vision service on the server's engines; None when vision is off.

    Then: `asyncio.create_task(service.run(mqtt_host, mqtt_port, username=..., password=...))`,
    `Pipeline(..., context_provider=service.context_provider)` and
    `video_handler=service.video_frame_handler` for the audio socket.
    """
    if not config.enabled:
        return None
    return build_vision_service(
        config,
        transcriber=engine_transcriber(engines.stt, engines.stt_runner) if engines else None,
        answerer=engine_answerer(engines.llm, engines.llm_runner) if engines else None,
    )
