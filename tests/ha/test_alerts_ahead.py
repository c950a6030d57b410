"""Alert sensors and zones exist before the first alert; reconnects and retained copies are no alert."""

import logging

import pytest
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.components.device_automation import (
    DeviceAutomationType,
    async_get_device_automations,
)
from homeassistant.const import EVENT_STATE_CHANGED, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.naila.const import CONF_ALERT_TYPES, DOMAIN

from .payloads import alert, camera_status

ZONE_PERSON = "binary_sensor.naila_zone_porch_person_detected"
CAM_PERSON = "binary_sensor.front_cam_person_detected"
ZONE_EVENT = "event.naila_zone_porch_alert"
FOLLOWED = (ZONE_PERSON, CAM_PERSON, ZONE_EVENT)


def _changes(hass: HomeAssistant) -> list[tuple[str, str | None, str]]:
    """(entity id, old state, new state) of every state change of the followed entities."""
    changes: list[tuple[str, str | None, str]] = []

    @callback
    def _on_change(event: Event) -> None:
        if (entity_id := event.data["entity_id"]) in FOLLOWED:
            old = event.data["old_state"]
            changes.append((entity_id, old and old.state, event.data["new_state"].state))

    hass.bus.async_listen(EVENT_STATE_CHANGED, _on_change)
    return changes


@pytest.fixture
async def camera(hass: HomeAssistant, entry: MockConfigEntry, publish) -> None:
    publish("naila/devices/front_cam/status", camera_status("front_cam", zone="porch"), True)
    await hass.async_block_till_done()


async def test_sensors_zone_and_triggers_exist_before_the_first_alert(
    hass: HomeAssistant, camera: None
) -> None:
    for alert_type in ("person_detected", "fall_detected", "motion_detected"):
        assert hass.states.get(f"binary_sensor.naila_zone_porch_{alert_type}").state == STATE_OFF
        assert hass.states.get(f"binary_sensor.front_cam_{alert_type}").state == STATE_OFF
    assert hass.states.get(ZONE_EVENT).state == STATE_UNKNOWN
    zone = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "naila/zones/porch")})
    assert zone is not None
    assert zone.name == "NAILA zone porch"
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, [zone.id])
    assert "person_detected" in {t["type"] for t in triggers[zone.id]}


async def test_the_first_alert_is_a_change_from_off(
    hass: HomeAssistant, camera: None, publish
) -> None:
    changes = _changes(hass)
    publish("naila/alerts/porch/person_detected", alert(zone="porch"))
    await hass.async_block_till_done()
    assert (ZONE_PERSON, STATE_OFF, STATE_ON) in changes
    assert (CAM_PERSON, STATE_OFF, STATE_ON) in changes
    [(_, old, new)] = [c for c in changes if c[0] == ZONE_EVENT]
    assert old == STATE_UNKNOWN
    assert new not in (STATE_UNKNOWN, "unavailable")


@pytest.mark.parametrize("entry_options", [{CONF_ALERT_TYPES: ["person_detected"]}])
async def test_only_the_configured_types_are_created_ahead(
    hass: HomeAssistant, camera: None
) -> None:
    assert hass.states.get(ZONE_PERSON).state == STATE_OFF
    assert hass.states.get("binary_sensor.naila_zone_porch_fall_detected") is None
    assert hass.states.get("binary_sensor.front_cam_motion_detected") is None


async def test_a_sensor_created_by_its_first_alert_starts_off(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    states: list[tuple[str | None, str]] = []

    @callback
    def _on_change(event: Event) -> None:
        if event.data["entity_id"] == "binary_sensor.naila_zone_yard_dog_seen":
            old = event.data["old_state"]
            states.append((old and old.state, event.data["new_state"].state))

    hass.bus.async_listen(EVENT_STATE_CHANGED, _on_change)
    publish("naila/alerts/yard/dog_seen", alert(zone="yard", alert_type="dog_seen", source=None))
    await hass.async_block_till_done()
    assert states == [(None, STATE_OFF), (STATE_OFF, STATE_ON)]


async def test_mqtt_reconnect_changes_no_alert_entity(
    hass: HomeAssistant, camera: None, publish
) -> None:
    publish("naila/alerts/porch/person_detected", alert(zone="porch"))
    await hass.async_block_till_done()
    before = {entity_id: hass.states.get(entity_id).state for entity_id in FOLLOWED}
    changes = _changes(hass)
    alerts = async_capture_events(hass, "naila_alert")
    async_dispatcher_send(hass, ha_mqtt.MQTT_CONNECTION_STATE, False)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.naila_gateway_connectivity").state == "unavailable"
    async_dispatcher_send(hass, ha_mqtt.MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert changes == []
    assert alerts == []
    assert {entity_id: hass.states.get(entity_id).state for entity_id in FOLLOWED} == before


async def test_a_retained_alert_is_no_alert(
    hass: HomeAssistant, camera: None, publish, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="custom_components.naila")
    changes = _changes(hass)
    alerts = async_capture_events(hass, "naila_alert")
    for _ in range(2):  # replayed at every (re)subscription
        publish("naila/alerts/porch/person_detected", alert(zone="porch"), True)
    await hass.async_block_till_done()
    assert changes == []
    assert alerts == []
    assert caplog.text.count("Ignored retained alert on naila/alerts/porch/person_detected") == 1
    publish("naila/alerts/porch/person_detected", alert(zone="porch"))
    await hass.async_block_till_done()
    assert len(alerts) == 1
