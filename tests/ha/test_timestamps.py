"""Timestamps as devices send them: ISO 8601 or epoch seconds; unreadable ones never crash."""

from __future__ import annotations

import logging

from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.naila.const import EVENT_ALERT

from .payloads import alert, device_status


async def test_a_status_in_epoch_seconds_is_read(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/devices/d1/status", device_status("d1", timestamp=1767225600), True)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.d1_connectivity").state == STATE_ON
    status = entry.runtime_data.hub.devices["d1"]
    assert status.timestamp is not None
    assert status.timestamp.isoformat() == "2026-01-01T00:00:00+00:00"


async def test_a_status_with_an_impossible_time_is_rejected(
    hass: HomeAssistant, entry: MockConfigEntry, publish, caplog
) -> None:
    with caplog.at_level(logging.WARNING, logger="custom_components.naila"):
        publish("naila/devices/d1/status", device_status("d1", timestamp=1e300), True)
        await hass.async_block_till_done()
    assert "Ignored message on naila/devices/d1/status: 'timestamp' is not a time" in caplog.text
    assert hass.states.get("binary_sensor.d1_connectivity") is None
    assert entry.runtime_data.hub.rejected["device_status"] == 1
    assert entry.runtime_data.hub.rejected["internal_error"] == 0


async def test_an_alert_with_an_unreadable_time_is_still_an_alert(
    hass: HomeAssistant, entry: MockConfigEntry, publish, freezer
) -> None:
    freezer.move_to("2026-03-01T12:00:00+00:00")
    events = async_capture_events(hass, EVENT_ALERT)
    publish("naila/alerts/front_door/person_detected", alert(timestamp="yesterday"))
    await hass.async_block_till_done()
    sensor = hass.states.get("binary_sensor.naila_zone_front_door_person_detected")
    assert sensor.state == STATE_ON
    assert sensor.attributes["last_alert"] == "2026-03-01T12:00:00+00:00"  # when it arrived
    (event,) = events
    assert event.data["timestamp"] is None  # no made-up time on the bus
