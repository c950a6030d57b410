"""Conversation relay: NAILA requests answered by HA's real default agent and intents."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import DOMAIN

from .home import async_setup_home
from .payloads import device_status


@pytest.fixture
async def home(hass: HomeAssistant) -> None:
    await async_setup_home(hass)


@pytest.fixture
async def bedroom(hass: HomeAssistant, home: None, entry: MockConfigEntry, publish) -> str:
    """A voice device in the bedroom zone (its HA device lands in the Bedroom area)."""
    publish(
        "naila/devices/bedroom_speaker/status",
        device_status("bedroom_speaker", name="Bedroom speaker", zone="bedroom"),
        True,
    )
    await hass.async_block_till_done()
    return "bedroom_speaker"


def responses(mqtt: Any, request_id: str) -> list[dict[str, Any]]:
    """Every ConversationResponse the integration published for one request."""
    topic = f"naila/conversation/response/{request_id}"
    return [
        json.loads(call.args[1])
        for call in mqtt.async_publish.call_args_list
        if call.args[0] == topic
    ]


async def ask(hass: HomeAssistant, mqtt: Any, publish, text: str, request_id: str, **extra: Any):
    publish(
        "naila/conversation/request",
        {"request_id": request_id, "device_id": "bedroom_speaker", "text": text, **extra},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    (answer,) = responses(mqtt, request_id)
    return answer


COMMANDS = [
    ("turn off the bedroom lights", "light.bedroom_light", "off", "action_done"),
    ("set the kitchen light brightness to 50 percent", "light.kitchen_light", "on", "action_done"),
    ("lock the front door", "lock.front_door", "locked", "action_done"),
    ("set the thermostat to 21 degrees", "climate.thermostat", "21", "action_done"),
    ("close the garage door", "cover.garage_door", "closed", "action_done"),
    ("open the blinds in the office", "cover.office_blinds", "open", "action_done"),
]


@pytest.mark.parametrize(("text", "entity_id", "state", "response_type"), COMMANDS)
async def test_home_commands_are_handled_by_home_assistant(
    hass: HomeAssistant, mqtt, bedroom: str, publish, text, entity_id, state, response_type
) -> None:
    if entity_id.startswith("light."):
        await hass.services.async_call("light", "turn_on", {"entity_id": entity_id}, blocking=True)
    if entity_id.startswith("cover."):
        await hass.services.async_call(
            "cover",
            "open_cover" if state == "closed" else "close_cover",
            {"entity_id": entity_id},
            blocking=True,
        )
    # What HA's own agent says to the same text is the reference speech.
    answer = await ask(hass, mqtt, publish, text, "req_1")
    assert answer["handled"] is True
    assert answer["response_type"] == response_type
    assert entity_id in answer["targets"]
    current = hass.states.get(entity_id)
    if entity_id.startswith("climate."):
        assert current.attributes["temperature"] == float(state)
    else:
        assert current.state == state
    reference = await conversation.async_converse(hass, text, None, None, "en")
    assert answer["speech"] == reference.response.speech["plain"]["speech"]


async def test_area_of_the_device_applies(hass: HomeAssistant, mqtt, bedroom: str, publish) -> None:
    for entity_id in ("light.bedroom_light", "light.kitchen_light"):
        await hass.services.async_call("light", "turn_on", {"entity_id": entity_id}, blocking=True)
    device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, "naila/devices/bedroom_speaker")}
    )
    assert device.area_id == ar.async_get(hass).async_get_area_by_name("Bedroom").id
    answer = await ask(hass, mqtt, publish, "turn off the lights", "req_area")
    assert answer["handled"] and answer["targets"] == ["light.bedroom_light"]
    assert hass.states.get("light.bedroom_light").state == "off"
    assert hass.states.get("light.kitchen_light").state == "on"


@pytest.mark.parametrize(
    ("text", "needle"),
    [("what time is it", ""), ("what's the weather like", "22")],
)
async def test_questions_get_home_assistants_answer(
    hass: HomeAssistant, mqtt, bedroom: str, publish, text: str, needle: str
) -> None:
    answer = await ask(hass, mqtt, publish, text, "req_q")
    assert answer["handled"]
    assert answer["response_type"] in ("query_answer", "action_done")
    assert needle in answer["speech"] and answer["speech"]


async def test_unmatched_text_is_not_handled(
    hass: HomeAssistant, mqtt, bedroom: str, publish
) -> None:
    answer = await ask(hass, mqtt, publish, "tell me a joke about penguins", "req_joke")
    assert answer["handled"] is False
    assert answer["response_type"] == "error"
    assert answer["error_code"] in ("no_intent_match", "no_valid_targets")


async def test_exact_bytes_of_a_response(
    hass: HomeAssistant, mqtt, bedroom: str, publish, freezer
) -> None:
    freezer.move_to("2026-12-03T08:00:00Z")
    await hass.services.async_call(
        "light", "turn_on", {"entity_id": "light.bedroom_light"}, blocking=True
    )
    publish(
        "naila/conversation/request",
        {"request_id": "r1", "device_id": "bedroom_speaker", "text": "turn off the bedroom light"},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    (call,) = [
        c
        for c in mqtt.async_publish.call_args_list
        if c.args[0] == "naila/conversation/response/r1"
    ]
    conversation_id = json.loads(call.args[1])["conversation_id"]
    assert call.args[1:] == (
        b'{"request_id":"r1","device_id":"bedroom_speaker","handled":true,'
        b'"response_type":"action_done","speech":"Turned off the light",'
        b'"conversation_id":"' + conversation_id.encode() + b'","targets":["light.bedroom_light"],'
        b'"agent_id":"conversation.home_assistant","continue_conversation":false,'
        b'"timestamp":"2026-12-03T08:00:00Z"}',
        1,
        False,
    )


async def test_a_device_without_ha_device_is_still_answered(
    hass: HomeAssistant, mqtt, home: None, entry: MockConfigEntry, publish
) -> None:
    publish(
        "naila/conversation/request",
        {"request_id": "r_ghost", "device_id": "ghost", "text": "turn off the kitchen light"},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    (answer,) = responses(mqtt, "r_ghost")
    assert answer["handled"] and answer["targets"] == ["light.kitchen_light"]


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"device_id":"bedroom_speaker","text":"hi"}',
        b'{"request_id":"r","device_id":"bad id","text":"hi"}',
        b'{"request_id":"r","device_id":"d","text":""}',
        b'{"request_id":"r","device_id":"d","text":"' + b"x" * 3000 + b'"}',
    ],
)
async def test_malformed_requests_are_dropped_and_others_answered(
    hass: HomeAssistant, mqtt, bedroom: str, publish, payload: bytes, caplog
) -> None:
    publish("naila/conversation/request", payload)
    answer = await ask(hass, mqtt, publish, "turn off the bedroom light", "req_after")
    assert answer["handled"]
    assert [c for c in mqtt.async_publish.call_args_list if c.args[0].endswith("/response/r")] == []
    assert "Ignored message on naila/conversation/request" in caplog.text
    assert entry_rejected(hass)["request"] == 1


def entry_rejected(hass: HomeAssistant) -> dict[str, int]:
    (entry,) = hass.config_entries.async_loaded_entries(DOMAIN)
    return dict(entry.runtime_data.hub.rejected)


class _Agent(conversation.AbstractConversationAgent):
    """An agent a user installed that fails: raises, or never answers."""

    def __init__(self, hang: asyncio.Event | None) -> None:
        self.hang = hang

    @property
    def supported_languages(self) -> list[str]:
        return ["en"]

    async def async_process(self, user_input: conversation.ConversationInput):
        if self.hang is not None:
            await self.hang.wait()
        raise RuntimeError("the agent's backend is down")


@pytest.mark.parametrize("hangs", [False, True])
async def test_failing_or_hanging_agent_answers_with_an_error_and_blocks_no_one(
    hass: HomeAssistant, mqtt, bedroom: str, publish, hangs: bool
) -> None:
    await ask(hass, mqtt, publish, "turn on the bedroom light", "r_warm_up")  # intents loaded
    (entry,) = hass.config_entries.async_loaded_entries(DOMAIN)
    entry.runtime_data.hub.relay.timeout = 30.0  # far above the warm default agent, under load
    hang = asyncio.Event() if hangs else None
    conversation.async_set_agent(hass, entry, _Agent(hang))
    publish(
        "naila/conversation/request",
        {
            "request_id": "r_bad",
            "device_id": "bedroom_speaker",
            "text": "hi",
            "agent_id": entry.entry_id,
        },
    )
    await asyncio.sleep(0)
    # Another request meanwhile is answered by HA's own agent at once.
    answer = await ask(hass, mqtt, publish, "turn off the bedroom light", "r_good")
    assert answer["handled"]
    await hass.async_block_till_done(wait_background_tasks=True)
    (failed,) = responses(mqtt, "r_bad")
    assert failed["handled"] is False
    assert failed["error_code"] == ("timeout" if hangs else "agent_error")
    conversation.async_unset_agent(hass, entry)
