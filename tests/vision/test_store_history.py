"""Media store: retention, historical questions, media fetch by id over MQTT."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

from wyoming_bridge.vision.alerts import alerts_in
from wyoming_bridge.vision.detection import Detection
from wyoming_bridge.vision.history import parse_history_query
from wyoming_bridge.vision.store import MediaStore

from .conftest import StartService, next_json


def test_retention_by_age_and_total_size(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, retention_days=1, max_bytes=2500)
    now = time.time()
    old = store.add("alert", b"x" * 100, media_type="image", fmt="jpeg", created=now - 2 * 86400)
    recent = [
        store.add("alert", b"y" * 1000, media_type="image", fmt="jpeg", created=now - 60 + i)
        for i in range(3)
    ]
    # adding the 3rd recent item pushed the total over 2500 bytes: the oldest ones went first
    assert store.get(old.media_id) is None
    assert not (tmp_path / old.path).exists()
    assert store.get(recent[0].media_id) is None
    assert [store.get(r.media_id) is not None for r in recent[1:]] == [True, True]
    assert store.total_bytes() == 2000
    assert store.read(recent[2]) == b"y" * 1000


def test_history_questions_parse_to_time_camera_event() -> None:
    now = datetime(2026, 1, 15, 10, 30).astimezone()
    known = {"front_door", "backyard", "kitchen_cam"}
    q = parse_history_query("What did the front door camera see at 3am?", now, known)
    assert q is not None and q.sources == ["front_door"]
    assert q.start == (now.replace(hour=3, minute=0) - timedelta(minutes=30)).timestamp()
    assert q.end == (now.replace(hour=3, minute=0) + timedelta(minutes=30)).timestamp()
    q = parse_history_query("Show me the last alert from the backyard", now, known)
    assert q is not None and q.sources == ["backyard"] and q.kind == "alert"
    assert q.start is None
    q = parse_history_query("was anyone at the front door last night?", now, known)
    assert q is not None and q.event_type == "person_detected"
    assert q.start == datetime(2026, 1, 14, 18, 0).astimezone().timestamp()
    assert parse_history_query("is there someone at the front door", now, known) is None


def test_configured_classes_raise_their_own_alerts() -> None:
    objects = [Detection("car", 0.8, (0, 0, 10, 10)), Detection("person", 0.6, (5, 5, 5, 9)),
               Detection("person", 0.9, (1, 1, 4, 9), fallen=True), Detection("cup", 0.9, (0, 0, 1, 1))]  # fmt: skip
    found = alerts_in(objects, ("car",))
    assert set(found) == {"car_detected", "person_detected", "fall_detected"}
    assert found["person_detected"].confidence == 0.9


async def test_historical_question_answered_from_stored_alerts(
    start_service: StartService, photos, tmp_path: Path
) -> None:
    store = MediaStore(tmp_path / "hist", retention_days=30, max_bytes=1 << 30)
    three_am = datetime.now().astimezone().replace(hour=3, minute=5, second=0, microsecond=0)
    if three_am > datetime.now().astimezone():
        three_am -= timedelta(days=1)
    analysis = {"description": "1 person", "objects": [], "text_detected": []}
    front = store.add("alert", photos["bus.jpg"], media_type="image", fmt="jpeg",
                      device_id="front_door", zone="entrance", event_type="person_detected",
                      labels=["person"], analysis=analysis, created=three_am.timestamp())  # fmt: skip
    store.add("alert", photos["zidane.jpg"], media_type="image", fmt="jpeg",
              device_id="front_door", zone="entrance", event_type="person_detected",
              labels=["person"], analysis={"description": "2 persons at noon"},
              created=(three_am + timedelta(hours=9)).timestamp() - 86400)  # fmt: skip
    store.add("alert", photos["zidane.jpg"], media_type="image", fmt="jpeg",
              device_id="garden_cam", zone="backyard", event_type="person_detected",
              labels=["person"], analysis={"description": "2 persons by the shed"},
              created=time.time() - 3600)  # fmt: skip
    svc = await start_service(store=store)

    text = await svc.context_provider(
        "kitchen_speaker", "What did the front door camera see at 3am?"
    )
    assert text is not None and front.media_id in text and "1 person" in text
    assert "shed" not in text and "noon" not in text

    text = await svc.context_provider("kitchen_speaker", "Show me the last alert from the backyard")
    assert text is not None and "2 persons by the shed" in text and "garden_cam" in text

    text = await svc.context_provider("kitchen_speaker", "Was anyone in the backyard?")
    assert text is not None and "2 persons by the shed" in text  # no vision words, a known zone

    text = await svc.context_provider(
        "kitchen_speaker", "what did the garage camera see yesterday?"
    )
    assert text is not None and text.startswith("No stored camera media matches")


async def test_media_fetch_by_id(start_service: StartService, client, photos) -> None:
    svc = await start_service(store=True)
    await svc.handle_video_frame("porch", photos["bus.jpg"])
    assert svc.store is not None
    (record,) = svc.store.query(kind="alert")
    await client.subscribe(svc.topics.server_media_response("+"), qos=1)
    request = {"request_id": "ha_1", "media_id": record.media_id}
    await client.publish(svc.topics.server_media_request, json.dumps(request), qos=1)
    topic, reply = await next_json(client)
    assert topic == svc.topics.server_media_response("ha_1")
    assert reply["status"] == "ok" and reply["format"] == "jpeg"
    assert base64.b64decode(reply["data"]) == photos["bus.jpg"]
    assert reply["analysis"]["objects"] and reply["event_type"] == "person_detected"

    request = {"request_id": "ha_2", "media_id": "m_nope"}
    await client.publish(svc.topics.server_media_request, json.dumps(request), qos=1)
    await client.publish(svc.topics.server_media_request, b"not json", qos=1)
    _topic, reply = await next_json(client)
    assert reply == {"request_id": "ha_2", "media_id": "m_nope", "status": "error",
                     "error": {"code": "not_found", "message": "unknown media_id"}}  # fmt: skip
