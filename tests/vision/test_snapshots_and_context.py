"""Snapshot request/response and the media-source order of the pipeline's context hook."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest

from tests.helpers import wait_until
from wyoming_bridge.vision.service import SnapshotTimeoutError, VisionService

from .conftest import StartService, b64


class CameraDevice:
    """A device on MQTT: retained status, answers media/request with a JPEG snapshot."""

    def __init__(self, client: aiomqtt.Client, svc: VisionService, device_id: str) -> None:
        self.client, self.svc, self.device_id = client, svc, device_id
        self.requests: list[dict[str, Any]] = []
        self.jpeg: bytes | None = None

    async def announce(self, capabilities: list[str], zone: str) -> None:
        status = {"device_id": self.device_id, "online": True, "capabilities": capabilities,
                  "firmware_version": "1.0", "timestamp": "2026-01-15T10:30:00Z", "zone": zone}  # fmt: skip
        await self.client.publish(
            self.svc.topics.device_status(self.device_id), json.dumps(status), qos=1, retain=True
        )
        await wait_until(lambda: self.device_id in self.svc.devices.devices)

    async def serving(self) -> asyncio.Task[None]:
        """Subscribed to its media requests, answering them in a task (cancel it to stop)."""
        await self.client.subscribe(self.svc.topics.media_request(self.device_id), qos=1)
        return asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        async for message in self.client.messages:
            request = json.loads(message.payload)  # type: ignore[arg-type]
            self.requests.append(request)
            if self.jpeg is None:
                continue  # a camera that never answers
            await self.client.publish(self.svc.topics.media_snapshot(self.device_id), json.dumps({
                "request_id": request["request_id"], "media_type": "image", "format": "jpeg",
                "width": 810, "height": 1080, "timestamp": "2026-01-15T10:30:00Z",
                "data": b64(self.jpeg),
            }), qos=1)  # fmt: skip


@pytest.fixture
async def svc(start_service: StartService) -> VisionService:
    return await start_service(snapshot_timeout=5.0)


@pytest.fixture
async def camera(svc: VisionService, shared_mqtt_broker, photos) -> AsyncIterator[CameraDevice]:
    async with aiomqtt.Client(shared_mqtt_broker.host, shared_mqtt_broker.port) as mqtt:
        device = CameraDevice(mqtt, svc, "kitchen_cam")
        device.jpeg = photos["bus.jpg"]
        await device.announce(["camera"], "kitchen")
        task = await device.serving()
        yield device
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_snapshot_request_and_response(svc: VisionService, camera: CameraDevice) -> None:
    ctx = await svc.snapshot_context("kitchen_cam", "what do you see?", with_ocr=False)
    request = camera.requests[0]
    assert request["request_type"] == "snapshot" and request["request_id"]
    assert request["params"]["format"] == "jpeg"
    assert ctx["source"]["type"] == "mqtt_snapshot" and ctx["source"]["device_id"] == "kitchen_cam"
    assert ctx["media"]["timestamp"] == "2026-01-15T10:30:00Z"
    assert sum(o["label"] == "person" for o in ctx["analysis"]["objects"]) >= 3


async def test_snapshot_times_out_when_device_is_silent(svc, camera) -> None:
    camera.jpeg = None
    started = time.monotonic()
    with pytest.raises(SnapshotTimeoutError):
        await svc.request_snapshot("kitchen_cam", wait=0.5)
    assert 0.5 <= time.monotonic() - started < 5
    assert len(camera.requests) == 1 and not svc.snapshots.waiting


async def test_non_visual_question_needs_no_context(svc, camera) -> None:
    assert await svc.context_provider("kitchen_cam", "what time is it") is None
    assert await svc.context_provider("kitchen_cam", "what's the weather tomorrow") is None
    assert camera.requests == []


async def test_own_snapshot_used_for_visual_question(svc, camera) -> None:
    text = await svc.context_provider("kitchen_cam", "What do you see?")
    assert text is not None and "mqtt_snapshot" in text and "person" in text
    assert len(camera.requests) == 1


async def test_live_frame_preferred_over_snapshot(svc, camera, photos) -> None:
    assert await svc.handle_video_frame("kitchen_cam", photos["zidane.jpg"]) is not None
    text = await svc.context_provider("kitchen_cam", "How many people can you see?")
    assert text is not None and "webrtc_stream" in text and "2 persons" in text
    assert camera.requests == []


async def test_camera_in_same_zone_answers_for_a_speaker(svc, camera, client) -> None:
    speaker = CameraDevice(client, svc, "kitchen_speaker")
    await speaker.announce(["audio", "speaker"], "kitchen")
    text = await svc.context_provider("kitchen_speaker", "Is there someone at the door?")
    assert text is not None and "kitchen_cam" in text and "mqtt_snapshot" in text
    assert len(camera.requests) == 1


async def test_attached_upload_comes_first(svc, camera, client, photos) -> None:
    reply_topic = svc.topics.upload_reply("app_7")
    await client.subscribe(reply_topic, qos=1)
    await client.publish(svc.topics.upload("app_7", "image"), json.dumps({
        "format": "jpeg", "device_id": "kitchen_cam", "data": b64(photos["zidane.jpg"]),
    }), qos=1)  # fmt: skip
    async with asyncio.timeout(30):
        async for _message in client.messages:
            break
    text = await svc.context_provider("kitchen_cam", "what is in this picture?")
    assert text is not None and text.startswith("The user attached this image")
    assert "mqtt_upload" in text and camera.requests == []


async def test_no_camera_anywhere_says_so(svc, client) -> None:
    speaker = CameraDevice(client, svc, "bedroom_speaker")
    await speaker.announce(["audio"], "bedroom")
    text = await svc.context_provider("bedroom_speaker", "Describe the room")
    assert text is not None and text.startswith("No camera view is available")


async def test_conversation_snapshots_stored_only_when_enabled(
    start_service: StartService, shared_mqtt_broker, photos
) -> None:
    plain = await start_service(store=True, share_group="a")
    keeping = await start_service(store=True, store_conversation=True, share_group="b")
    async with aiomqtt.Client(shared_mqtt_broker.host, shared_mqtt_broker.port) as mqtt:
        camera = CameraDevice(mqtt, plain, "desk_cam")
        camera.jpeg = photos["zidane.jpg"]
        serving = await camera.serving()
        try:
            ctx = await plain.snapshot_context("desk_cam", "what's on my desk?", with_ocr=False)
            assert "media_id" not in ctx["source"]
            ctx = await keeping.snapshot_context("desk_cam", "what's on my desk?", with_ocr=False)
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
    assert plain.store is not None and keeping.store is not None
    (record,) = keeping.store.query(kind="conversation")
    assert ctx["source"]["media_id"] == record.media_id and record.device_id == "desk_cam"
    assert keeping.store.read(record) == photos["zidane.jpg"]
