"""Two AI servers on one broker split uploads through an MQTT 5 shared subscription."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import cv2

from .conftest import StartService, b64, jpeg_of, to_bgr
from .test_snapshots_and_context import CameraDevice


async def test_each_upload_handled_exactly_once(start_service: StartService, client, photos):
    first = await start_service(server_id="ai-1", share_group="workers")
    second = await start_service(server_id="ai-2", share_group="workers")
    small = jpeg_of(cv2.resize(to_bgr(photos["zidane.jpg"]), (320, 180)))
    sessions = [f"s{i}" for i in range(6)]
    await client.subscribe(f"{first.config.prefix}/uploads/+/reply", qos=1)
    for session in sessions:
        body = {"format": "jpeg", "request_id": f"req-{session}", "data": b64(small)}
        await client.publish(first.topics.upload(session, "image"), json.dumps(body), qos=1)

    replies: list[dict] = []
    try:
        async with asyncio.timeout(60):
            async for message in client.messages:
                replies.append(json.loads(message.payload))  # type: ignore[arg-type]
                if len(replies) == len(sessions):
                    break
        async with asyncio.timeout(2):  # and no duplicate arrives afterwards
            async for message in client.messages:
                replies.append(json.loads(message.payload))  # type: ignore[arg-type]
    except TimeoutError:
        pass
    assert sorted(r["request_id"] for r in replies) == sorted(f"req-{s}" for s in sessions)
    assert all(r["status"] == "ok" for r in replies)
    assert first.stats["uploads"] + second.stats["uploads"] == len(sessions)
    assert first.stats["uploads"] > 0 and second.stats["uploads"] > 0


async def test_snapshot_reply_reaches_the_server_that_asked(
    start_service: StartService, shared_mqtt_broker, photos
):
    first = await start_service(server_id="ai-1", share_group="workers")
    second = await start_service(server_id="ai-2", share_group="workers")
    async with aiomqtt.Client(shared_mqtt_broker.host, shared_mqtt_broker.port) as mqtt:
        camera = CameraDevice(mqtt, first, "porch_cam")
        camera.jpeg = photos["zidane.jpg"]
        serving = await camera.serving()
        try:
            for _ in range(3):
                ctx = await second.snapshot_context("porch_cam", None, with_ocr=False, wait=10)
                assert ctx["source"]["device_id"] == "porch_cam"
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
    await asyncio.sleep(0.5)  # time for a server to (wrongly) take a reply as a pushed image
    assert second.stats["snapshots"] == 3
    assert first.stats["snapshots"] == 0 and first.stats["frames"] == 0  # not mistaken for a push
