"""Uploads end to end over a real mosquitto: every media kind, every bad upload."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiomqtt
import numpy as np
import pytest

from wyoming_bridge.llm import LlmEngine, LlmSettings
from wyoming_bridge.models import llm_model_file, whisper_model_dir
from wyoming_bridge.runner import EngineRunner
from wyoming_bridge.stt import SttEngine, SttSettings
from wyoming_bridge.vision.service import Transcriber, VisionService
from wyoming_bridge.vision.wiring import engine_answerer, engine_transcriber

from .conftest import StartService, b64, next_json, render_text, to_bgr
from .media_files import encode_audio, encode_video, image_bytes, png_bomb


@pytest.fixture(scope="session")
def stt_transcriber() -> Iterator[Transcriber]:
    """The server's own STT engine (packaged Whisper tiny.en) on its worker thread."""
    runner = EngineRunner("stt")
    yield engine_transcriber(SttEngine(whisper_model_dir(), SttSettings()), runner)
    runner.close()


async def upload(
    client: aiomqtt.Client, svc: VisionService, media: str, body: dict[str, Any] | bytes,
    session: str = "web_1",
) -> dict[str, Any]:  # fmt: skip
    """Publish one upload like the web service does and return the reply payload."""
    reply_topic = svc.topics.upload_reply(session)
    await client.subscribe(reply_topic, qos=1)
    payload = body if isinstance(body, bytes) else json.dumps(body)
    await client.publish(svc.topics.upload(session, media), payload, qos=1)
    _topic, reply = await next_json(client, reply_topic, wait=60)
    await client.unsubscribe(reply_topic)
    return reply


@pytest.fixture
async def service(start_service: StartService) -> AsyncIterator[VisionService]:
    yield await start_service(store=True)


async def test_image_upload_reply_carries_visual_context(service, client, photos) -> None:
    reply = await upload(client, service, "image", {
        "session_id": "web_1", "media_type": "image", "format": "jpeg", "filename": "bus.jpg",
        "context": None, "request_id": "r1", "data": b64(photos["bus.jpg"]),
    })  # fmt: skip
    assert reply["status"] == "ok" and reply["request_id"] == "r1"
    ctx = reply["visual_context"]
    assert ctx["source"] == {"type": "mqtt_upload", "device_id": None, "session_id": "web_1"}
    assert ctx["media"]["width"] == 810 and ctx["media"]["height"] == 1080
    persons = [o for o in ctx["analysis"]["objects"] if o["label"] == "person"]
    assert len(persons) >= 3 and all(len(o["bbox"]) == 4 for o in persons)
    assert "person" in reply["answer"]
    assert "media_id" not in reply  # uploads are not stored unless the store is enabled
    assert service.store is not None and service.store.total_bytes() == 0


async def test_png_upload_asking_to_read_runs_ocr(service, client) -> None:
    reply = await upload(client, service, "image", {
        "media_type": "image", "format": "png", "context": "Can you read the text on this?",
        "data": b64(render_text("Invoice No. 4711")),
    })  # fmt: skip
    assert reply["status"] == "ok"
    assert "Invoice No. 4711" in reply["visual_context"]["analysis"]["text_detected"]


async def test_webp_upload(service, client, photos) -> None:
    webp = image_bytes(to_bgr(photos["zidane.jpg"]), "WEBP")
    reply = await upload(client, service, "image", {"format": "webp", "data": b64(webp)})
    assert reply["visual_context"]["media"]["format"] == "webp"
    assert sum(o["label"] == "person" for o in reply["visual_context"]["analysis"]["objects"]) >= 2


@pytest.mark.parametrize("fmt", ["wav", "ogg", "mp3"])
async def test_audio_upload_is_transcribed(
    fmt: str, start_service: StartService, client, speech, stt_transcriber
) -> None:
    svc = await start_service(transcriber=stt_transcriber)
    clip = encode_audio(speech("turn on the kitchen lights", 22050), 22050, fmt)
    reply = await upload(client, svc, "audio", {"format": fmt, "data": b64(clip)})
    assert reply["status"] == "ok"
    assert "kitchen" in reply["transcript"].lower()


async def test_video_upload_samples_frames(service, client, photos) -> None:
    bus, dark = to_bgr(photos["bus.jpg"]), np.zeros((1080, 810, 3), np.uint8)
    clip = encode_video([dark, dark, bus, bus, bus, bus, dark, dark], "mp4", fps=2)
    reply = await upload(client, service, "video", {"format": "mp4", "data": b64(clip)})
    ctx = reply["visual_context"]
    assert reply["status"] == "ok" and ctx["media"]["type"] == "video"
    assert len(ctx["analysis"]["frames"]) == 4
    assert sum(o["label"] == "person" for o in ctx["analysis"]["objects"]) >= 3
    assert 1.0 <= ctx["media"]["frame_time_s"] <= 3.0  # the frame showing the bus


BAD_UPLOADS = [
    ("image", {"format": "jpeg", "data": "%%% not base64 %%%"}, "invalid_base64"),
    ("image", {"format": "jpeg", "data": b64(b"\xff\xd8\xff\xe0" + b"\x00" * 64)}, "corrupt"),
    ("image", {"format": "png", "data": b64(png_bomb())}, "too_many_pixels"),
    ("image", {"format": "jpeg", "data": b64(b"\xff" * 300_000)}, "too_large"),
    (
        "image",
        {"format": "gif", "data": b64(image_bytes(np.zeros((4, 4, 3), np.uint8), "GIF"))},
        "unsupported_format",
    ),
    ("image", b"{not json", "bad_json"),
    ("image", b"[1, 2]", "bad_json"),
    ("image", {"format": "jpeg"}, "invalid_base64"),
    ("document", {"format": "pdf", "data": b64(b"%PDF")}, "unsupported_media"),
    ("audio", {"format": "ogg", "data": b64(b"OggS" + b"\x00" * 100)}, "corrupt"),
    ("video", {"format": "mp4", "data": b64(b"\x00\x00\x00\x18ftypmp42")}, "corrupt"),
    ("text", {"context": ""}, "missing_context"),
]


async def test_bad_uploads_get_error_replies_and_store_nothing(
    start_service: StartService, client, photos, stt_transcriber
) -> None:
    svc = await start_service(
        store=True, store_uploads=True, max_upload_bytes=200_000, transcriber=stt_transcriber
    )
    for media, body, code in BAD_UPLOADS:
        reply = await upload(client, svc, media, body)
        assert reply["status"] == "error", (media, body)
        assert reply["error"]["code"] == code, (code, reply["error"])
        assert reply["error"]["message"]
    assert svc.store is not None and svc.store.total_bytes() == 0
    assert not list((svc.store.data_dir / "media").rglob("*.*"))
    small = image_bytes(to_bgr(photos["zidane.jpg"])[::4, ::4], "JPEG")  # still serves others
    reply = await upload(client, svc, "image", {"format": "jpeg", "data": b64(small)})
    assert reply["status"] == "ok" and reply["media_id"]


async def test_question_answered_by_the_llm_with_visual_context(
    start_service: StartService, client, photos
) -> None:
    pytest.importorskip("llama_cpp")

    runner = EngineRunner("llm")
    answered: list[tuple[str, str | None]] = []
    llm_answer = engine_answerer(LlmEngine(llm_model_file(), LlmSettings()), runner)

    async def answerer(question: str, context: str | None) -> str:
        answered.append((question, context))
        return await llm_answer(question, context)

    try:
        svc = await start_service(answerer=answerer)
        reply = await upload(client, svc, "image", {
            "format": "jpeg", "context": "What is in this picture?", "data": b64(photos["bus.jpg"]),
        })  # fmt: skip
    finally:
        runner.close()
    assert reply["status"] == "ok" and reply["answer"].strip()
    question, context = answered[0]
    assert question == "What is in this picture?"
    assert context is not None and "person" in context and '"mqtt_upload"' in context


async def test_text_upload_without_llm_is_a_clear_error(service, client) -> None:
    reply = await upload(client, service, "text", {"context": "hello there"})
    assert reply["status"] == "error" and reply["error"]["code"] == "llm_unavailable"


async def test_overload_is_answered_busy_not_queued(
    start_service: StartService, client, photos, monkeypatch
) -> None:
    monkeypatch.setattr("wyoming_bridge.vision.dispatch.MAX_WAITING_JOBS", 1)
    svc = await start_service()
    await client.subscribe(svc.topics.upload_reply("+"), qos=1)
    for i in range(3):
        body = {"request_id": f"q{i}", "format": "jpeg", "data": b64(photos["bus.jpg"])}
        await client.publish(svc.topics.upload(f"s{i}", "image"), json.dumps(body), qos=1)
    replies = {}
    for _ in range(3):
        _topic, reply = await next_json(client, wait=60)
        replies[reply["request_id"]] = reply
    assert replies["q0"]["status"] == "ok"
    busy = [r for r in replies.values() if r["status"] == "error"]
    assert busy and all(r["error"]["code"] == "busy" for r in busy)
