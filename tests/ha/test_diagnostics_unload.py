"""Diagnostics (redacted) and unload/reload leaving no subscriptions, timers or listeners."""

from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from custom_components.naila.const import CONF_OFF_DELAY

from .payloads import alert, camera_status


@pytest.fixture
def mqtt_config_entry_data() -> dict[str, Any]:
    return {"broker": "broker.local", "port": 1883, "username": "naila", "password": "hunter2"}


async def test_diagnostics_redacts_credentials(
    hass: HomeAssistant, entry: MockConfigEntry, publish, hass_client
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    publish(
        "naila/gateway/status", {"online": True, "gateway_id": "pi-gw", "version": "0.1.0"}, True
    )
    publish("naila/devices/cam/status", camera_status("cam"), True)
    publish("naila/alerts/hall/person_detected", alert(zone="hall", source="cam"))
    publish("naila/devices/cam/status", "{oops")
    await hass.async_block_till_done()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["entry"]["data"] == {"prefix": "naila"}
    assert diagnostics["mqtt"] == [
        {
            "broker": "broker.local",
            "port": 1883,
            "username": "**REDACTED**",
            "password": "**REDACTED**",
            "protocol": None,
            "transport": None,
        }
    ]
    hub = diagnostics["hub"]
    assert hub["gateway"]["id"] == "pi-gw"
    assert hub["devices"]["cam"]["capabilities"] == ["camera"]
    assert hub["zones"] == ["hall"]
    assert hub["alert_sensors"] == [  # the camera's: created ahead for the known types
        "devices/cam/alert/fall_detected",
        "devices/cam/alert/motion_detected",
        "devices/cam/alert/person_detected",
        "zones/hall/alert/person_detected",
    ]
    assert hub["rejected_messages"] == {"device_status": 1}
    assert "hunter2" not in str(diagnostics)


def _naila_subscriptions(hass: HomeAssistant) -> set[str]:
    client = hass.data["mqtt"].client
    client = getattr(client, "_mock_wraps", None) or client  # the mqtt_mock wraps the real client
    return {s.topic for s in client.subscriptions if s.topic.startswith("naila/")}


def _naila_dispatcher_signals(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    signals = hass.data.get("dispatcher", {})
    return [
        str(signal)
        for signal, targets in signals.items()
        if str(signal).startswith(f"naila_{entry.entry_id}") and targets
    ]


def _alert_off_timers(hass: HomeAssistant) -> list:
    now = hass.loop.time()
    return [
        handle
        for handle in hass.loop._scheduled
        if not handle.cancelled() and 590 < handle.when() - now <= 601
    ]


@pytest.mark.parametrize("entry_options", [{CONF_OFF_DELAY: 600}])
async def test_unload_leaves_nothing_behind(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/devices/cam/status", camera_status("cam"), True)
    publish("naila/alerts/hall/person_detected", alert(zone="hall", source="cam"))
    await hass.async_block_till_done()
    assert _naila_subscriptions(hass) >= {
        "naila/gateway/status",
        "naila/devices/+/status",
        "naila/alerts/+/+",
        "naila/uploads/+/reply",
    }
    assert _naila_dispatcher_signals(hass, entry)
    assert len(_alert_off_timers(hass)) == 2  # zone and camera sensor, 600 s each

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    # "naila/gateway/status" stays: HA's MQTT integration watches it for discovery (manifest).
    assert _naila_subscriptions(hass) == {"naila/gateway/status"}
    assert _naila_dispatcher_signals(hass, entry) == []
    assert _alert_off_timers(hass) == []
    assert (
        hass.states.get("binary_sensor.naila_zone_hall_person_detected").state == STATE_UNAVAILABLE
    )

    # Messages after unload change nothing and raise nothing.
    publish("naila/alerts/hall/person_detected", alert(zone="hall"))
    await hass.async_block_till_done()

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("binary_sensor.naila_zone_hall_person_detected").state == "off"
    assert hass.states.get("binary_sensor.cam_connectivity") is not None
