"""What the integration publishes, the gateway and the AI server read: on a real mosquitto.

The peer plays the gateway and the AI server with naila_protocol's own schemas, as mirrored in
the integration (wire.py, commands.py), and the gateway's device event builders
(naila_protocol/device_events.py): the commands, the conversation answers and the integration
status HA's real MQTT client publishes parse with the parsers those processes use, and what the
peer builds with the same schemas moves HA's entities.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.naila.commands import CommandMessage
from custom_components.naila.const import CONF_PREFIX, DOMAIN, EVENT_DEVICE_EVENT
from custom_components.naila.vocab import DeviceCommand, DeviceState, Sound, WakeWord
from custom_components.naila.wire import (
    Capability,
    ConversationRequest,
    ConversationResponse,
    ConversationResponseType,
    DeviceStatus,
    IntegrationStatus,
    PayloadError,
    utc_timestamp,
)
from naila_protocol.device_events import state_event, wake_event

from .home import async_setup_home
from .real_broker import Peer, until

SATELLITE = "assist_satellite.kitchen"
KITCHEN = DeviceStatus(
    device_id="kitchen",
    online=True,
    capabilities=frozenset({Capability.AUDIO, Capability.SPEAKER}),
    name="Kitchen",
    zone="kitchen",
    timestamp=utc_timestamp(time.time()),
    firmware_version="1.4.0",
)


@pytest.fixture
async def naila(hass: HomeAssistant, real_mqtt: MockConfigEntry, peer: Peer) -> MockConfigEntry:
    """NAILA set up on the real broker, a gateway and a kitchen speaker online."""
    await hass.async_add_executor_job(peer.record, "naila/#")
    assert await async_setup_component(hass, "assist_pipeline", {})
    entry = MockConfigEntry(domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_add_executor_job(
        peer.publish, "naila/gateway/status", {"online": True, "gateway_id": "gw"}, True
    )
    await hass.async_add_executor_job(
        peer.publish, "naila/devices/kitchen/status", KITCHEN.to_json(), True
    )
    await until(lambda: getattr(hass.states.get(SATELLITE), "state", None) == "idle")
    return entry


def _device_event(peer: Peer, event: dict[str, Any]) -> None:
    peer.publish("naila/devices/kitchen/events", {**event, "device_id": "kitchen"})


async def test_integration_status_reads_online_then_offline(
    hass: HomeAssistant, naila: MockConfigEntry, peer: Peer
) -> None:
    topic = "naila/integration/status"
    await until(lambda: bool(peer.received(topic)))
    online = IntegrationStatus.from_json(peer.received(topic)[0])
    assert online.online
    assert online.version == "0.1.0"

    assert await hass.config_entries.async_unload(naila.entry_id)
    await hass.async_block_till_done()
    await until(lambda: len(peer.received(topic)) == 2)
    assert IntegrationStatus.from_json(peer.received(topic)[1]).online is False
    # A cleared status (nobody ever set HA up on this broker) reads as offline too.
    assert IntegrationStatus.from_json(b"").online is False


async def test_the_gateway_reads_every_spoken_command(
    hass: HomeAssistant, naila: MockConfigEntry, peer: Peer
) -> None:
    commands: list[CommandMessage] = []

    def gateway(payload: dict[str, Any]) -> None:
        command = CommandMessage.from_json(json.dumps(payload), "kitchen")
        commands.append(command)
        if command.message == "Is the oven off?":
            _device_event(peer, {"event": "error", "request_id": command.request_id,
                                 "message": "speaker busy"})  # fmt: skip
        else:
            _device_event(peer, {"event": "announced", "request_id": command.request_id})

    await hass.async_add_executor_job(peer.answer, "naila/devices/kitchen/command", gateway)

    result = await hass.services.async_call(
        DOMAIN,
        "announce",
        {"device_id": "kitchen", "message": "Dinner is ready"},
        blocking=True,
        return_response=True,
    )
    assert result["status"] == "announced"
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": SATELLITE, "message": "The door is open"},
        blocking=True,
    )
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "message": "Is the oven off?", "preannounce": False},
            blocking=True,
        )
    assert err.value.translation_key == "announce_failed"
    assert "speaker busy" in str(err.value)

    assert [(c.command, c.message, c.sound) for c in commands] == [
        (DeviceCommand.ANNOUNCE, "Dinner is ready", None),
        (DeviceCommand.ANNOUNCE, "The door is open", Sound.CHIME),
        (DeviceCommand.ANNOUNCE, "Is the oven off?", None),
    ]
    assert all(c.request_id for c in commands)
    assert len({c.request_id for c in commands}) == 3


async def test_device_events_built_by_the_gateway_move_the_satellite(
    hass: HomeAssistant, naila: MockConfigEntry, peer: Peer
) -> None:
    seen = async_capture_events(hass, EVENT_DEVICE_EVENT)
    for state in (DeviceState.LISTENING, DeviceState.PROCESSING, DeviceState.RESPONDING):
        await hass.async_add_executor_job(_device_event, peer, state_event(state))
        await until(lambda state=state: hass.states.get(SATELLITE).state == state)
    await hass.async_add_executor_job(_device_event, peer, wake_event(WakeWord.HEY_JARVIS))
    await until(lambda: any(e.data["event"] == "wake" for e in seen))
    (wake,) = [e for e in seen if e.data["event"] == "wake"]
    assert wake.data == {
        "device_id": "kitchen",
        "event": "wake",
        "prefix": "naila",
        "data": {"model": "hey_jarvis"},
    }

    # The device clears its retained status (it was removed): so is its satellite.
    removed = DeviceStatus(device_id="kitchen", online=False, removed=True)
    await hass.async_add_executor_job(
        peer.publish, "naila/devices/kitchen/status", removed.to_json(), True
    )
    await until(lambda: hass.states.get(SATELLITE) is None)


async def test_the_server_reads_home_assistants_answer(
    hass: HomeAssistant, naila: MockConfigEntry, peer: Peer
) -> None:
    await async_setup_home(hass)
    request = ConversationRequest(
        request_id="req_contract", device_id="kitchen", text="turn on the kitchen light"
    )
    topic = f"naila/conversation/response/{request.request_id}"
    await hass.async_add_executor_job(peer.publish, "naila/conversation/request", request.to_json())
    await until(lambda: bool(peer.received(topic)), seconds=120)

    (raw,) = peer.received(topic)
    response = ConversationResponse.from_json(raw, request.request_id)
    assert response.handled
    assert response.response_type is ConversationResponseType.ACTION_DONE
    assert response.device_id == "kitchen"
    assert "light.kitchen_light" in response.targets
    assert hass.states.get("light.kitchen_light").state == "on"
    # The server files an answer under the request of its topic only.
    with pytest.raises(PayloadError):
        ConversationResponse.from_json(raw, "req_other")
