"""Alerts: per zone, person and fall, debounced; motion frames and device pushes raise them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt

from tests.helpers import wait_until
from wyoming_bridge.vision.alerts import AlertDebouncer
from wyoming_bridge.vision.service import VisionService

from .conftest import StartService, b64, next_json


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_debounce_one_alert_per_episode_then_cooldown() -> None:
    clock = FakeClock()
    debounce = AlertDebouncer(cooldown=60, clear_after=30, clock=clock)
    fired = []
    for _ in range(30):  # a person standing still for 30 s of frames
        fired += debounce.update("cam", {"person_detected"})
        clock.now += 1
    assert fired == ["person_detected"]
    clock.now += 31  # gone for longer than clear_after, and the cooldown has passed
    assert debounce.update("cam", {"person_detected"}) == ["person_detected"]
    clock.now += 35  # gone again, but back within the cooldown: no new alert
    assert debounce.update("cam", {"person_detected"}) == []
    assert debounce.update("other_cam", {"person_detected"}) == ["person_detected"]
    assert debounce.update("cam", {"fall_detected"}) == ["fall_detected"]


async def collect(mqtt: aiomqtt.Client, seconds: float) -> list[tuple[str, dict[str, Any]]]:
    got: list[tuple[str, dict[str, Any]]] = []
    try:
        async with asyncio.timeout(seconds):
            async for message in mqtt.messages:
                got.append((message.topic.value, json.loads(message.payload)))  # type: ignore[arg-type]
    except TimeoutError:
        pass
    return got


async def announce(client: aiomqtt.Client, svc: VisionService, device_id: str, zone: str) -> None:
    status = {"device_id": device_id, "online": True, "capabilities": ["camera"], "zone": zone}
    await client.publish(svc.topics.device_status(device_id), json.dumps(status), qos=1)
    await wait_until(lambda: svc.devices.zone_of(device_id) == zone.lower().replace(" ", "_"))


async def test_person_standing_still_is_one_alert(start_service: StartService, client, photos):
    svc = await start_service(store=True)
    await announce(client, svc, "porch_cam", "Front Door")  # zone names become topic-safe
    await client.subscribe(f"{svc.config.prefix}/alerts/#", qos=1)
    for _ in range(5):
        assert await svc.handle_video_frame("porch_cam", photos["bus.jpg"]) is not None
    got = await collect(client, 1.0)
    topics = sorted(topic for topic, _ in got)
    assert topics == [
        f"{svc.config.prefix}/alerts/all",
        f"{svc.config.prefix}/alerts/front_door/person_detected",
    ]
    alert = got[0][1]
    assert alert == got[1][1]
    assert alert["alert_type"] == "person_detected" and alert["zone"] == "front_door"
    assert alert["source_device"] == "porch_cam" and alert["label"] == "person"
    assert alert["count"] >= 3 and 0.35 <= alert["confidence"] <= 1
    assert len(alert["bbox"]) == 4 and alert["timestamp"].endswith("Z")
    assert svc.store is not None and svc.store.get(alert["media_id"]) is not None


async def test_fall_alert_with_configured_zone(start_service: StartService, client, fallen_photo):
    svc = await start_service(zones={"hall_cam": "hallway"})
    await client.subscribe(f"{svc.config.prefix}/alerts/hallway/+", qos=1)
    await svc.handle_video_frame("hall_cam", fallen_photo)
    got = dict(await collect(client, 1.0))
    fall = got[f"{svc.config.prefix}/alerts/hallway/fall_detected"]
    assert fall["label"] == "person" and fall["count"] >= 1
    assert "media_id" not in fall  # no store configured
    assert f"{svc.config.prefix}/alerts/hallway/person_detected" in got


async def test_gateway_video_frames_via_hook(start_service: StartService, client, photos):
    svc = await start_service()
    await client.subscribe(svc.topics.alerts_all, qos=1)
    await svc.video_frame_handler("cam-1", "-", b"\xff\xd8 not a jpeg")  # a bad frame first
    await svc.video_frame_handler("cam-1", "-", photos["zidane.jpg"])
    _topic, alert = await next_json(client, wait=30)
    assert alert["alert_type"] == "person_detected" and alert["count"] >= 2
    assert alert["zone"] == "cam-1"  # no zone known: the camera is its own zone
    assert svc.live.fresh("cam-1") is not None


async def test_device_pushed_snapshot_raises_alert(start_service: StartService, client, photos):
    svc = await start_service()
    await client.subscribe(svc.topics.alerts_all, qos=1)
    push = {"media_type": "image", "format": "jpeg", "timestamp": "2026-01-15T10:30:00Z",
            "data": b64(photos["bus.jpg"])}  # fmt: skip
    await client.publish(svc.topics.media_snapshot("doorbell"), json.dumps(push), qos=1)
    await client.publish(svc.topics.media_snapshot("doorbell"), b"garbage", qos=1)
    _topic, alert = await next_json(client, wait=30)
    assert alert["source_device"] == "doorbell" and alert["alert_type"] == "person_detected"


async def test_frames_of_a_busy_camera_collapse_to_the_newest(start_service: StartService, photos):
    svc = await start_service()
    for _ in range(9):
        await svc.video_frame_handler("yard", "-", photos["bus.jpg"])
    await svc.video_frame_handler("yard", "-", photos["zidane.jpg"])
    await wait_until(lambda: not svc.frames.is_busy("yard"), within=60)
    assert svc.stats["frames"] == 2  # the first frame, then only the newest waiting one
    live = svc.live.fresh("yard")
    assert live is not None and live.jpeg == photos["zidane.jpg"]
