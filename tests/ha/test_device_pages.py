"""Device pages: camera triggers, a voice device's missing triggers, deleting a zone, restarts."""

from __future__ import annotations

import logging

from homeassistant.components import automation
from homeassistant.components.device_automation import (
    DeviceAutomationType,
    async_get_device_automations,
)
from homeassistant.const import STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.naila.const import DOMAIN

from .payloads import alert, camera_status, device_status


def _device(hass: HomeAssistant, identifier: str) -> dr.DeviceEntry | None:
    return dr.async_get(hass).async_get_device(identifiers={(DOMAIN, identifier)})


def _automation(device_id: str, alert_type: str, event: str) -> dict:
    return {
        "triggers": {
            "trigger": "device",
            "domain": DOMAIN,
            "device_id": device_id,
            "type": alert_type,
        },
        "actions": {"event": event},
    }


async def test_a_camera_triggers_on_its_own_alerts_only(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/devices/front_cam/status", camera_status("front_cam", zone="porch"), True)
    publish("naila/devices/back_cam/status", camera_status("back_cam", zone="garden"), True)
    await hass.async_block_till_done()
    camera = _device(hass, "naila/devices/front_cam")
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, [camera.id])
    assert {"person_detected", "fall_detected", "motion_detected"} <= {
        t["type"] for t in triggers[camera.id] if t["domain"] == DOMAIN
    }

    calls = async_capture_events(hass, "front_cam_person")
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {automation.DOMAIN: _automation(camera.id, "person_detected", "front_cam_person")},
    )
    publish("naila/alerts/garden/person_detected", alert("garden", source="back_cam"))
    publish("naila/alerts/porch/motion_detected", alert("porch", "motion_detected"))
    publish("naila/alerts/porch/person_detected", alert("porch"))
    await hass.async_block_till_done()

    assert [call.data for call in calls] == [{}]  # the front camera's person alert, once


async def test_a_voice_device_offers_no_alert_trigger(
    hass: HomeAssistant, entry: MockConfigEntry, publish, caplog
) -> None:
    publish("naila/devices/kitchen/status", device_status("kitchen", name="Kitchen"), True)
    await hass.async_block_till_done()
    kitchen = _device(hass, "naila/devices/kitchen")
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, [kitchen.id])
    assert [t for t in triggers[kitchen.id] if t["domain"] == DOMAIN] == []

    # An automation written by hand with such a trigger is refused with the reason.
    calls = async_capture_events(hass, "kitchen_alert")
    with caplog.at_level(logging.ERROR):
        assert await async_setup_component(
            hass,
            automation.DOMAIN,
            {automation.DOMAIN: _automation(kitchen.id, "person_detected", "kitchen_alert")},
        )
        await hass.async_block_till_done()
    assert f"Device {kitchen.id} has no NAILA alerts" in caplog.text
    publish("naila/alerts/kitchen/person_detected", alert("kitchen", source="kitchen"))
    await hass.async_block_till_done()
    assert calls == []


async def test_a_deleted_zone_comes_back_fresh_with_its_next_alert(
    hass: HomeAssistant, entry: MockConfigEntry, publish, hass_ws_client
) -> None:
    assert await async_setup_component(hass, "config", {})
    sensor = "binary_sensor.naila_zone_shed_person_detected"
    publish("naila/alerts/shed/person_detected", alert("shed", source=None))
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == STATE_ON
    zone = _device(hass, "naila/zones/shed")

    client = await hass_ws_client(hass)
    response = await client.remove_device(zone.id, entry.entry_id)
    assert response["success"]
    await hass.async_block_till_done()
    assert _device(hass, "naila/zones/shed") is None
    assert hass.states.get(sensor) is None
    assert "shed" not in entry.runtime_data.hub.alerts.zones

    publish("naila/alerts/shed/person_detected", alert("shed", source=None))
    await hass.async_block_till_done()
    assert _device(hass, "naila/zones/shed") is not None
    assert hass.states.get(sensor).state == STATE_ON
    assert hass.states.get("event.naila_zone_shed_alert").attributes["event_type"] == (
        "person_detected"
    )


async def test_a_restart_brings_back_a_voice_device_before_its_status(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/devices/kitchen/status", device_status("kitchen", name="Kitchen"), False)
    await hass.async_block_till_done()
    entities = ("assist_satellite.kitchen", "select.kitchen_conversation")
    assert all(hass.states.get(e).state != STATE_UNAVAILABLE for e in entities)

    # Not retained here: after the reload nothing tells the integration about the device.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    hub = entry.runtime_data.hub
    assert "kitchen" in hub.voice_devices
    assert "kitchen" in hub.satellites
    assert all(hass.states.get(e) is not None for e in entities)

    publish("naila/devices/kitchen/status", device_status("kitchen", name="Kitchen"), False)
    await hass.async_block_till_done()
    assert hass.states.get("assist_satellite.kitchen").state == "idle"
    assert hass.states.get("select.kitchen_conversation").state != STATE_UNAVAILABLE
