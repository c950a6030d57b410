"""Devices and entities from retained status, metrics and snapshots."""

import base64

from homeassistant.components import mqtt as ha_mqtt
from homeassistant.const import (
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    EntityCategory,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.naila.const import DOMAIN

from .payloads import JPEG, camera_status, device_status

GATEWAY = "binary_sensor.naila_gateway_connectivity"
SERVER = "binary_sensor.naila_ai_server_connectivity"


async def test_gateway_and_server_follow_status_and_last_will(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    assert hass.states.get(GATEWAY).state == STATE_UNKNOWN
    publish(
        "naila/gateway/status", {"online": True, "gateway_id": "pi-gw", "version": "0.2.0"}, True
    )
    publish("naila/server/status", {"online": True, "server_id": "ai-1", "services": ["stt"]}, True)
    await hass.async_block_till_done()
    assert hass.states.get(GATEWAY).state == STATE_ON
    assert hass.states.get(GATEWAY).attributes["version"] == "0.2.0"
    assert hass.states.get(SERVER).state == STATE_ON
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "naila/gateway")})
    assert device.sw_version == "0.2.0"

    publish("naila/gateway/status", {"online": False, "gateway_id": "pi-gw", "timestamp": None})
    await hass.async_block_till_done()
    assert hass.states.get(GATEWAY).state == STATE_OFF


DETAILED = (
    "sensor.naila_gateway_dropped_frames",
    "sensor.naila_ai_server_last_speech_to_text_time",
    "sensor.naila_ai_server_last_first_token_time",
)


async def test_detailed_metrics_disabled_and_connectivity_diagnostic(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    for entity_id in DETAILED:
        entity = registry.async_get(entity_id)
        assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION, entity_id
        assert entity.entity_category is EntityCategory.DIAGNOSTIC, entity_id
        assert hass.states.get(entity_id) is None, entity_id
    for entity_id in ("sensor.naila_gateway_cpu_usage", "sensor.naila_ai_server_requests"):
        assert registry.async_get(entity_id).disabled_by is None, entity_id
        assert registry.async_get(entity_id).entity_category is None, entity_id
    for entity_id in (GATEWAY, SERVER):
        assert registry.async_get(entity_id).entity_category is EntityCategory.DIAGNOSTIC


async def enable(hass: HomeAssistant, entry: MockConfigEntry, *entity_ids: str) -> None:
    """Enable entities as a user does in the entity settings, then reload the entry."""
    registry = er.async_get(hass)
    for entity_id in entity_ids:
        registry.async_update_entity(entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


async def test_metrics_sensors_and_unavailable_when_offline(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    await enable(hass, entry, *DETAILED)
    cpu = "sensor.naila_gateway_cpu_usage"
    latency = "sensor.naila_gateway_last_first_audio_latency"
    assert hass.states.get(cpu).state == STATE_UNAVAILABLE
    publish("naila/gateway/status", {"online": True, "gateway_id": "pi-gw"}, True)
    publish(
        "naila/gateway/metrics",
        {
            "gateway_id": "pi-gw",
            "sessions": 2,
            "cpu_percent": 4.5,
            "utterances": 7,
            "frames_dropped": 0,
            "last_first_audio_ms": 412.0,
            "server_connected": True,
        },
    )
    await hass.async_block_till_done()
    assert hass.states.get(cpu).state == "4.5"
    assert hass.states.get(cpu).attributes["unit_of_measurement"] == "%"
    assert hass.states.get(latency).state == "412.0"
    assert hass.states.get(latency).attributes["device_class"] == "duration"
    assert hass.states.get("sensor.naila_gateway_active_sessions").state == "2"
    assert hass.states.get("sensor.naila_gateway_utterances").attributes["state_class"] == (
        "total_increasing"
    )
    assert hass.states.get("sensor.naila_gateway_dropped_frames").state == "0"

    publish("naila/server/status", {"online": True, "server_id": "ai-1"}, True)
    publish(
        "naila/server/metrics",
        {"first_audio_ms": 380, "requests_total": 3, "active_requests": 1, "stt_ms": 120},
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.naila_ai_server_last_first_audio_time").state == "380"
    assert hass.states.get("sensor.naila_ai_server_requests").state == "3"

    publish("naila/gateway/status", {"online": False, "gateway_id": "pi-gw"})
    await hass.async_block_till_done()
    assert hass.states.get(cpu).state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.naila_ai_server_requests").state == "3"
    # An announcement: no speech-to-text, no LLM; the last measured values stay.
    publish(
        "naila/server/metrics",
        {"first_audio_ms": 95, "stt_ms": None, "llm_first_token_ms": None, "requests_total": 4},
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.naila_ai_server_last_speech_to_text_time").state == "120"
    assert hass.states.get("sensor.naila_ai_server_last_first_audio_time").state == "95"
    assert hass.states.get("sensor.naila_ai_server_requests").state == "4"


async def test_mqtt_disconnect_makes_entities_unavailable(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/gateway/status", {"online": True}, True)
    await hass.async_block_till_done()
    async_dispatcher_send(hass, ha_mqtt.MQTT_CONNECTION_STATE, False)
    await hass.async_block_till_done()
    assert hass.states.get(GATEWAY).state == STATE_UNAVAILABLE
    async_dispatcher_send(hass, ha_mqtt.MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert hass.states.get(GATEWAY).state == STATE_ON


async def test_device_from_retained_status(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish(
        "naila/devices/kitchen_hub/status", device_status("kitchen_hub", name="Kitchen hub"), True
    )
    await hass.async_block_till_done()
    device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, "naila/devices/kitchen_hub")}
    )
    assert device.name == "Kitchen hub"
    assert device.sw_version == "1.2.0"
    assert device.model == "Voice device"
    state = hass.states.get("binary_sensor.kitchen_hub_connectivity")
    assert state.state == STATE_ON
    assert state.attributes["capabilities"] == ["audio", "speaker"]
    # No image entity for a device without a camera.
    assert not hass.states.async_entity_ids("image")

    # Last will: only id and online; the device keeps what it told before.
    publish("naila/devices/kitchen_hub/status", {"device_id": "kitchen_hub", "online": False})
    await hass.async_block_till_done()
    state = hass.states.get("binary_sensor.kitchen_hub_connectivity")
    assert state.state == STATE_OFF
    assert state.attributes["capabilities"] == ["audio", "speaker"]

    publish("naila/devices/kitchen_hub/status", device_status("kitchen_hub", firmware="1.3.0"))
    await hass.async_block_till_done()
    device = dr.async_get(hass).async_get(device.id)
    assert device.sw_version == "1.3.0"


async def test_cleared_retained_status_removes_device(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/devices/old/status", device_status("old"), True)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.old_connectivity") is not None
    # Clearing a retained message reaches live subscribers as a normal (not retained) message.
    publish("naila/devices/old/status", "")
    await hass.async_block_till_done()
    assert dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "naila/devices/old")}) is None
    assert er.async_get(hass).async_get("binary_sensor.old_connectivity") is None
    assert hass.states.get("binary_sensor.old_connectivity") is None
    # It comes back if it announces itself again.
    publish("naila/devices/old/status", device_status("old"))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.old_connectivity").state == STATE_ON


async def test_camera_image_entity_shows_last_snapshot(
    hass: HomeAssistant, entry: MockConfigEntry, publish, hass_client: ClientSessionGenerator
) -> None:
    publish("naila/devices/front_cam/status", camera_status("front_cam"), True)
    await hass.async_block_till_done()
    state = hass.states.get("image.front_cam_snapshot")
    assert state.state == STATE_UNKNOWN
    publish(
        "naila/devices/front_cam/media/snapshot",
        {
            "request_id": "req_1",
            "media_type": "image",
            "format": "jpeg",
            "width": 2,
            "height": 2,
            "timestamp": "2026-01-15T10:30:00Z",
            "data": base64.b64encode(JPEG).decode(),
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get("image.front_cam_snapshot")
    assert state.state == "2026-01-15T10:30:00+00:00"
    client = await hass_client()
    response = await client.get("/api/image_proxy/image.front_cam_snapshot")
    assert response.status == 200
    assert response.content_type == "image/jpeg"
    assert await response.read() == JPEG


async def test_remove_config_entry_device(
    hass: HomeAssistant, entry: MockConfigEntry, publish, hass_ws_client
) -> None:
    """Offline devices may be removed from the UI; online ones and the gateway may not."""
    assert await async_setup_component(hass, "config", {})
    publish("naila/devices/a/status", device_status("a"), True)
    publish("naila/devices/b/status", device_status("b"), True)
    publish("naila/devices/b/status", {"device_id": "b", "online": False})
    await hass.async_block_till_done()
    registry = dr.async_get(hass)
    client = await hass_ws_client(hass)
    for identifier, removable in (
        ("naila/devices/a", False),
        ("naila/devices/b", True),
        ("naila/gateway", False),
    ):
        device = registry.async_get_device(identifiers={(DOMAIN, identifier)})
        response = await client.remove_device(device.id, entry.entry_id)
        assert response["success"] is removable, identifier
    await hass.async_block_till_done()
    assert registry.async_get_device(identifiers={(DOMAIN, "naila/devices/b")}) is None
    assert "b" not in entry.runtime_data.hub.device_ids


async def test_device_events_reach_the_bus(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    events = async_capture_events(hass, "naila_device_event")
    publish(
        "naila/devices/kitchen/events",
        {"event": "reply", "device_id": "kitchen", "request_id": "r1", "transcript": "hi"},
    )
    await hass.async_block_till_done()
    assert [e.data for e in events] == [
        {
            "device_id": "kitchen",
            "event": "reply",
            "prefix": "naila",
            "data": {"request_id": "r1", "transcript": "hi"},
        }
    ]
