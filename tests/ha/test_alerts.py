"""Alerts: occupancy binary sensors per zone and camera, zone event entity, naila_alert, device triggers."""

import json
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import automation
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.components.device_automation import (
    DeviceAutomationType,
    async_get_device_automations,
)
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.naila.const import CONF_ALERT_TYPES, CONF_OFF_DELAY, DOMAIN

from .payloads import alert, camera_status, device_status

ZONE_PERSON = "binary_sensor.naila_zone_front_door_person_detected"
CAM_PERSON = "binary_sensor.front_cam_person_detected"
ZONE_EVENT = "event.naila_zone_front_door_alert"


@pytest.fixture
def entry_options() -> dict:
    return {CONF_OFF_DELAY: 30}


async def test_person_alert_turns_sensors_on_then_off_after_delay(
    hass: HomeAssistant, entry: MockConfigEntry, publish, freezer: FrozenDateTimeFactory
) -> None:
    publish("naila/devices/front_cam/status", camera_status("front_cam"), True)
    publish("naila/alerts/front_door/person_detected", alert())
    await hass.async_block_till_done()
    for entity_id in (ZONE_PERSON, CAM_PERSON):
        state = hass.states.get(entity_id)
        assert state.state == STATE_ON, entity_id
        assert state.attributes["device_class"] == "occupancy"
        assert state.attributes["confidence"] == 0.92
        assert state.attributes["source_device"] == "front_cam"
        assert state.attributes["bbox"] == [10, 20, 100, 200]

    # A new alert 20 s later restarts the 30 s delay.
    freezer.tick(timedelta(seconds=20))
    async_fire_time_changed(hass)
    publish("naila/alerts/front_door/person_detected", alert(confidence=0.8))
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=20))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(ZONE_PERSON).state == STATE_ON
    assert hass.states.get(ZONE_PERSON).attributes["confidence"] == 0.8

    freezer.tick(timedelta(seconds=11))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(ZONE_PERSON).state == STATE_OFF
    assert hass.states.get(CAM_PERSON).state == STATE_OFF


async def test_other_alert_types_get_their_own_sensor(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish(
        "naila/alerts/hall/fall_detected",
        alert(zone="hall", alert_type="fall_detected", source=None),
    )
    publish(
        "naila/alerts/hall/package_seen", alert(zone="hall", alert_type="package_seen", source=None)
    )
    await hass.async_block_till_done()
    fall = hass.states.get("binary_sensor.naila_zone_hall_fall_detected")
    assert fall.state == STATE_ON
    assert fall.attributes["device_class"] == "safety"
    assert hass.states.get("binary_sensor.naila_zone_hall_package_seen").state == STATE_ON
    # No source device: no per-camera sensor.
    assert not [e for e in hass.states.async_entity_ids("binary_sensor") if "cam" in e]


@pytest.mark.parametrize("entry_options", [{CONF_ALERT_TYPES: ["person_detected"]}])
async def test_options_limit_sensor_alert_types(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    events = async_capture_events(hass, "naila_alert")
    publish("naila/alerts/hall/fall_detected", alert(zone="hall", alert_type="fall_detected"))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.naila_zone_hall_fall_detected") is None
    # The bus event and the zone event entity still report it.
    assert [e.data["alert_type"] for e in events] == ["fall_detected"]
    assert (
        hass.states.get("event.naila_zone_hall_alert").attributes["event_type"] == "fall_detected"
    )


async def test_zone_event_entity_and_bus_event(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    events = async_capture_events(hass, "naila_alert")
    publish("naila/alerts/front_door/person_detected", alert(media_id="m_1", count=2))
    await hass.async_block_till_done()
    state = hass.states.get(ZONE_EVENT)
    assert state.state != STATE_UNKNOWN
    assert state.attributes["event_type"] == "person_detected"
    assert state.attributes["confidence"] == 0.92
    assert state.attributes["media_id"] == "m_1"
    assert "person_detected" in state.attributes["event_types"]

    registry = dr.async_get(hass)
    zone_device = registry.async_get_device(identifiers={(DOMAIN, "naila/zones/front_door")})
    cam_device = registry.async_get_device(identifiers={(DOMAIN, "naila/devices/front_cam")})
    assert len(events) == 1
    assert events[0].data == {
        "zone": "front_door",
        "alert_type": "person_detected",
        "confidence": 0.92,
        "source_device": "front_cam",
        "timestamp": "2026-01-15T10:30:00+00:00",
        "label": "person",
        "bbox": [10, 20, 100, 200],
        "media_id": "m_1",
        "count": 2,
        "prefix": "naila",
        "zone_device_id": zone_device.id,
        "source_device_id": cam_device.id,
    }

    # A new alert type extends the event types.
    publish("naila/alerts/front_door/dog_seen", alert(alert_type="dog_seen"))
    await hass.async_block_till_done()
    state = hass.states.get(ZONE_EVENT)
    assert state.attributes["event_type"] == "dog_seen"
    assert "dog_seen" in state.attributes["event_types"]
    assert len(events) == 2


async def test_readme_automation_announces_person_at_front_door(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    """The example automation of docs/home_assistant.md (minus the porch light)."""
    commands: list[dict] = []

    @callback
    def _gateway(msg: ha_mqtt.ReceiveMessage) -> None:
        commands.append(json.loads(msg.payload))

    entry.async_on_unload(
        await ha_mqtt.async_subscribe(hass, "naila/devices/kitchen_hub/command", _gateway, 1)
    )
    publish("naila/devices/kitchen_hub/status", device_status("kitchen_hub"), True)
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "alias": "Person at the front door",
                "triggers": [
                    {
                        "trigger": "event",
                        "event_type": "naila_alert",
                        "event_data": {"alert_type": "person_detected", "zone": "front_door"},
                    }
                ],
                "conditions": [
                    {
                        "condition": "template",
                        "value_template": "{{ trigger.event.data.confidence | float(0) >= 0.6 }}",
                    }
                ],
                "actions": [
                    {
                        "action": "naila.announce",
                        "data": {
                            "device_id": "kitchen_hub",
                            "message": "Someone is at the front door.",
                        },
                    }
                ],
            }
        },
    )
    publish("naila/alerts/back_yard/person_detected", alert(zone="back_yard"))
    publish("naila/alerts/front_door/person_detected", alert(confidence=0.3))
    publish("naila/alerts/front_door/fall_detected", alert(alert_type="fall_detected"))
    publish("naila/alerts/front_door/person_detected", alert())
    await hass.async_block_till_done()
    assert [(c["command"], c["message"]) for c in commands] == [
        ("announce", "Someone is at the front door.")
    ]


async def test_device_trigger(hass: HomeAssistant, entry: MockConfigEntry, publish) -> None:
    publish("naila/alerts/front_door/person_detected", alert())
    await hass.async_block_till_done()
    zone_device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, "naila/zones/front_door")}
    )
    triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, [zone_device.id]
    )
    types = {t["type"] for t in triggers[zone_device.id] if t["domain"] == DOMAIN}
    assert {"person_detected", "fall_detected"} <= types

    calls = async_capture_events(hass, "test_zone_person")
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "triggers": {
                    "trigger": "device",
                    "domain": DOMAIN,
                    "device_id": zone_device.id,
                    "type": "person_detected",
                },
                "actions": {"event": "test_zone_person"},
            }
        },
    )
    publish("naila/alerts/front_door/fall_detected", alert(alert_type="fall_detected"))
    publish("naila/alerts/front_door/person_detected", alert())
    await hass.async_block_till_done()
    assert len(calls) == 1


async def test_sensors_and_event_entities_return_after_reload(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/alerts/front_door/person_detected", alert())
    await hass.async_block_till_done()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(ZONE_PERSON).state == STATE_OFF
    assert hass.states.get(ZONE_EVENT).attributes["event_type"] == "person_detected"


async def test_restricting_alert_types_removes_their_sensors(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/alerts/hall/fall_detected", alert(zone="hall", alert_type="fall_detected"))
    publish("naila/alerts/hall/person_detected", alert(zone="hall"))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.naila_zone_hall_fall_detected") is not None
    hass.config_entries.async_update_entry(
        entry, options={CONF_OFF_DELAY: 30, CONF_ALERT_TYPES: ["person_detected"]}
    )
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get("binary_sensor.naila_zone_hall_fall_detected") is None
    assert er.async_get(hass).async_get("binary_sensor.front_cam_fall_detected") is None
    assert hass.states.get("binary_sensor.naila_zone_hall_person_detected").state == STATE_OFF
