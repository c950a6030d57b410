"""Vision fixtures: real test photos, real models, a real broker and running services."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from naila_sim.photos import sample_photos
from wyoming_bridge.vision.analysis import Analyzer, OcrReader
from wyoming_bridge.vision.config import VisionConfig
from wyoming_bridge.vision.models import CompositeDetector, build_detector
from wyoming_bridge.vision.service import Answerer, Transcriber, VisionService
from wyoming_bridge.vision.store import MediaStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    """JPEG bytes of bus.jpg and zidane.jpg, read straight out of the wheel."""
    return sample_photos()


def to_bgr(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def jpeg_of(bgr: np.ndarray) -> bytes:
    return bytes(cv2.imencode(".jpg", bgr)[1])


@pytest.fixture(scope="session")
def fallen_photo(photos: dict[str, bytes]) -> bytes:
    """People lying down: bus.jpg turned on its side (the fall model calls the front one Fall)."""
    return jpeg_of(cv2.rotate(to_bgr(photos["bus.jpg"]), cv2.ROTATE_90_COUNTERCLOCKWISE))


def render_text(text: str) -> bytes:
    """A PNG of black text on white, like a photographed document."""
    img = Image.new("RGB", (800, 200), "white")
    font = ImageFont.truetype("DejaVuSans.ttf", 36)
    ImageDraw.Draw(img).text((40, 70), text, fill="black", font=font)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="session")
def detector() -> CompositeDetector:
    return build_detector(("coco", "fall"), confidence=0.35, iou=0.45, threads=2)


@pytest.fixture(scope="session")
def ocr_reader() -> OcrReader:
    return OcrReader()


@pytest.fixture(scope="session")
def analyzer(detector: CompositeDetector, ocr_reader: OcrReader) -> Iterator[Analyzer]:
    worker = Analyzer(detector, ocr_reader)
    yield worker
    worker.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


StartService = Callable[..., Awaitable[VisionService]]


@pytest.fixture
async def start_service(
    shared_mqtt_broker: Any, analyzer: Analyzer, tmp_path: Path
) -> AsyncIterator[StartService]:
    """start_service(store=False, transcriber=None, answerer=None, **config) -> a running service.

    Every test gets its own topic prefix on the session broker.
    """
    prefix = f"t{uuid.uuid4().hex[:8]}"
    running: list[tuple[VisionService, asyncio.Task[None]]] = []

    async def start(
        *,
        store: bool | MediaStore = False,
        transcriber: Transcriber | None = None,
        answerer: Answerer | None = None,
        **overrides: Any,
    ) -> VisionService:
        overrides.setdefault("prefix", prefix)
        config = VisionConfig(**overrides)
        media = (
            store
            if isinstance(store, MediaStore)
            else MediaStore(tmp_path / "data", retention_days=7, max_bytes=1 << 30)
            if store
            else None
        )
        service = VisionService(
            config, analyzer, store=media, transcriber=transcriber, answerer=answerer
        )
        task = asyncio.create_task(service.run(shared_mqtt_broker.host, shared_mqtt_broker.port))
        running.append((service, task))
        await asyncio.wait_for(service.ready.wait(), 10)
        return service

    start.prefix = prefix  # type: ignore[attr-defined]
    yield start
    for service, task in running:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await service.close()


@pytest.fixture
async def client(shared_mqtt_broker: Any) -> AsyncIterator[aiomqtt.Client]:
    """A plain MQTT 5 client: a device, a web service or Home Assistant."""
    async with aiomqtt.Client(
        shared_mqtt_broker.host,
        shared_mqtt_broker.port,
        protocol=aiomqtt.ProtocolVersion.V5,
        identifier=f"test-{uuid.uuid4().hex[:6]}",
    ) as mqtt:
        yield mqtt


async def next_json(mqtt: aiomqtt.Client, topic: str | None = None, wait: float = 30) -> Any:
    """The next message (on `topic`, if given) as (topic, JSON)."""
    async with asyncio.timeout(wait):
        async for message in mqtt.messages:
            if topic is None or message.topic.matches(topic):
                assert isinstance(message.payload, bytes)
                return message.topic.value, json.loads(message.payload)
    raise AssertionError("message stream ended")
