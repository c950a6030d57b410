"""Bad MQTT input is logged and dropped: no exception in HA's MQTT handling, no broken entity."""

import json
import logging

import pytest
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant, valid_entity_id
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .payloads import alert, camera_status, device_status

GOOD = alert()
BIG = 70 * 1024

# (topic, payload) pairs that the hub must reject with a warning.
REJECTED = {
    "status_not_json": ("naila/devices/d1/status", "{not json"),
    "status_not_utf8": ("naila/devices/d1/status", b"\xff\xfe\x00"),
    "status_array": ("naila/devices/d1/status", "[]"),
    "status_null": ("naila/devices/d1/status", "null"),
    "status_online_string": ("naila/devices/d1/status", {"device_id": "d1", "online": "yes"}),
    "status_capabilities_string": (
        "naila/devices/d1/status",
        {"online": True, "capabilities": "camera"},
    ),
    "status_id_mismatch": ("naila/devices/d1/status", device_status("d2")),
    "status_oversized": ("naila/devices/d1/status", {**device_status("d1"), "pad": "x" * BIG}),
    "device_id_space": ("naila/devices/bad id/status", device_status("bad id")),
    "device_id_unicode": ("naila/devices/caméra/status", device_status("caméra")),
    "device_id_too_long": (f"naila/devices/{'a' * 65}/status", device_status("a" * 65)),
    "gateway_online_int": ("naila/gateway/status", {"online": 1}),
    "gateway_not_json": ("naila/gateway/status", "offline"),
    "server_services_dict": ("naila/server/status", {"online": True, "services": {"a": 1}}),
    "metrics_not_json": ("naila/gateway/metrics", "cpu=3"),
    "alert_not_json": ("naila/alerts/front_door/person_detected", "person!"),
    "alert_empty": ("naila/alerts/front_door/person_detected", ""),
    "alert_confidence_string": (
        "naila/alerts/front_door/person_detected",
        alert(confidence="high"),
    ),
    "alert_confidence_range": ("naila/alerts/front_door/person_detected", alert(confidence=5)),
    "alert_confidence_bool": ("naila/alerts/front_door/person_detected", alert(confidence=True)),
    "alert_zone_mismatch": ("naila/alerts/front_door/person_detected", alert(zone="garage")),
    "alert_type_mismatch": (
        "naila/alerts/front_door/person_detected",
        alert(alert_type="fall_detected"),
    ),
    "alert_zone_odd": ("naila/alerts/front door!/person_detected", alert(zone="front door!")),
    "alert_type_odd": ("naila/alerts/front_door/per$on", alert(alert_type="per$on")),
    "alert_zone_too_long": (f"naila/alerts/{'z' * 65}/person_detected", alert(zone="z" * 65)),
    "alert_source_odd": ("naila/alerts/front_door/person_detected", alert(source="cam/../x")),
    "alert_source_number": ("naila/alerts/front_door/person_detected", alert(source=42)),
    "alert_oversized": ("naila/alerts/front_door/person_detected", {**GOOD, "pad": "x" * BIG}),
    "snapshot_bad_base64": (
        "naila/devices/cam/media/snapshot",
        {"request_id": "r", "format": "jpeg", "data": "***"},
    ),
    "snapshot_no_data": ("naila/devices/cam/media/snapshot", {"request_id": "r", "format": "jpeg"}),
    "snapshot_gif": ("naila/devices/cam/media/snapshot", {"format": "gif", "data": "R0lGOD=="}),
    "snapshot_video": ("naila/devices/cam/media/snapshot", {"media_type": "video", "data": "AAAA"}),
    "snapshot_oversized": ("naila/devices/cam/media/snapshot", "x" * (16 * 1024 * 1024 + 1)),
    "event_without_type": ("naila/devices/d1/events", {"device_id": "d1", "request_id": "r"}),
}

# Messages on topics NAILA does not use: nothing subscribes, nothing changes.
UNKNOWN_TOPICS = [
    ("naila/devices/d1/whatever", device_status("d1")),
    ("naila/gateway/status/extra", {"online": False}),
    ("naila/alerts/all", GOOD),
    ("naila/alerts/front_door/person_detected/extra", GOOD),
    ("naila2/devices/d1/status", device_status("d1")),
    ("naila/uploads/unknown_session/reply", "{broken"),
]


@pytest.fixture
async def settled(hass: HomeAssistant, entry: MockConfigEntry, publish) -> set[str]:
    """A gateway, a device and a camera with state; returns the entity ids present."""
    publish("naila/gateway/status", {"online": True}, True)
    publish("naila/devices/d1/status", device_status("d1"), True)
    publish("naila/devices/cam/status", camera_status("cam"), True)
    await hass.async_block_till_done()
    return set(hass.states.async_entity_ids())


def _assert_nothing_broke(hass: HomeAssistant, entry: MockConfigEntry, before: set[str]) -> None:
    assert set(hass.states.async_entity_ids()) == before
    assert all(valid_entity_id(entity_id) for entity_id in before)
    assert hass.states.get("binary_sensor.d1_connectivity").state == STATE_ON
    assert hass.states.get("binary_sensor.naila_gateway_connectivity").state == STATE_ON
    assert entry.runtime_data.hub.rejected["internal_error"] == 0


@pytest.mark.parametrize(("topic", "payload"), REJECTED.values(), ids=REJECTED.keys())
async def test_bad_payload_is_logged_and_dropped(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    settled: set[str],
    publish,
    caplog: pytest.LogCaptureFixture,
    topic: str,
    payload,
) -> None:
    caplog.set_level(logging.WARNING, logger="custom_components.naila")
    publish(topic, payload)
    await hass.async_block_till_done()
    assert "Ignored message on" in caplog.text
    assert sum(entry.runtime_data.hub.rejected.values()) == 1
    _assert_nothing_broke(hass, entry, settled)


@pytest.mark.parametrize(("topic", "payload"), UNKNOWN_TOPICS)
async def test_unknown_topics_change_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, settled: set[str], publish, topic, payload
) -> None:
    publish(topic, payload)
    await hass.async_block_till_done()
    _assert_nothing_broke(hass, entry, settled)


async def test_wrong_metric_types_become_unknown(
    hass: HomeAssistant, entry: MockConfigEntry, settled: set[str], publish
) -> None:
    publish("naila/gateway/metrics", '{"cpu_percent": "lots", "sessions": NaN, "utterances": true}')
    await hass.async_block_till_done()
    for entity_id in (
        "sensor.naila_gateway_cpu_usage",
        "sensor.naila_gateway_active_sessions",
        "sensor.naila_gateway_utterances",
    ):
        assert hass.states.get(entity_id).state == "unknown", entity_id
    _assert_nothing_broke(hass, entry, settled)


async def test_odd_but_valid_ids_give_clean_entity_ids(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish(
        "naila/devices/Cam-1.front:2/status",
        camera_status("Cam-1.front:2", name="Front (left) cam!"),
        True,
    )
    publish(
        "naila/alerts/Front-Door/person_detected", alert(zone="Front-Door", source="Cam-1.front:2")
    )
    await hass.async_block_till_done()
    ids = set(hass.states.async_entity_ids())
    assert all(valid_entity_id(entity_id) for entity_id in ids)
    assert "binary_sensor.front_left_cam_connectivity" in ids
    assert "binary_sensor.front_left_cam_person_detected" in ids
    assert "binary_sensor.naila_zone_front_door_person_detected" in ids


async def test_bad_message_from_one_device_leaves_others(
    hass: HomeAssistant, entry: MockConfigEntry, settled: set[str], publish
) -> None:
    publish("naila/devices/d1/status", "garbage")
    publish("naila/devices/d9/status", device_status("d9"))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.d9_connectivity").state == STATE_ON
    assert hass.states.get("binary_sensor.d1_connectivity").state == STATE_ON
    assert json.dumps(entry.runtime_data.hub.rejected) == '{"device_status": 1}'
