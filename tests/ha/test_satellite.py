"""Assist satellite: announce, start_conversation, state from device events, HA timers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yarl
from homeassistant.components import conversation
from homeassistant.components.assist_pipeline.pipeline import (
    async_get_pipeline,
    async_update_pipeline,
)
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.naila.const import DOMAIN

from .home import async_setup_home
from .payloads import camera_status, device_status

SATELLITE = "assist_satellite.kitchen_speaker"
COMMAND_TOPIC = "naila/devices/kitchen_speaker/command"


@pytest.fixture
async def speaker(hass: HomeAssistant, entry: MockConfigEntry, publish) -> MockConfigEntry:
    """The NAILA entry with a kitchen speaker, a camera and an online gateway, in a home."""
    await async_setup_home(hass)
    assert await async_setup_component(hass, "assist_pipeline", {})
    publish("naila/gateway/status", {"online": True, "gateway_id": "gw"}, True)
    publish(
        "naila/devices/kitchen_speaker/status",
        device_status("kitchen_speaker", name="Kitchen speaker", zone="kitchen"),
        True,
    )
    publish("naila/devices/front_cam/status", camera_status("front_cam"), True)
    await hass.async_block_till_done()
    return entry


def gateway_announced(topic: str, command: dict[str, Any]):
    """The gateway: the device finished playing what it was told to say."""
    return (
        "naila/devices/kitchen_speaker/events",
        {"event": "announced", "device_id": "kitchen_speaker", "request_id": command["request_id"]},
    )


async def test_one_satellite_per_speaker_following_the_device_state(
    hass: HomeAssistant, speaker: MockConfigEntry, publish
) -> None:
    assert hass.states.get(SATELLITE).state == "idle"
    assert not [e for e in hass.states.async_entity_ids("assist_satellite") if "front_cam" in e]
    for state in ("listening", "processing", "responding", "bogus", "idle"):
        publish(
            "naila/devices/kitchen_speaker/events",
            {"event": "state", "device_id": "kitchen_speaker", "state": state},
        )
        await hass.async_block_till_done()
        assert hass.states.get(SATELLITE).state == ("responding" if state == "bogus" else state)
    publish(
        "naila/devices/kitchen_speaker/status", {"device_id": "kitchen_speaker", "online": False}
    )
    await hass.async_block_till_done()
    assert hass.states.get(SATELLITE).state == "unavailable"


async def test_announce_plays_on_the_device_with_the_chime(
    hass: HomeAssistant, speaker: MockConfigEntry, responder
) -> None:
    await responder(COMMAND_TOPIC, gateway_announced)
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": SATELLITE, "message": "Dinner is ready"},
        blocking=True,
    )
    [(_, command)] = responder.requests
    assert command == {
        "command": "announce",
        "request_id": command["request_id"],
        "message": "Dinner is ready",
        "sound": "chime",
    }
    assert hass.states.get(SATELLITE).state == "idle"


@pytest.fixture
async def media(hass: HomeAssistant, speaker: MockConfigEntry, tmp_path: Path) -> Path:
    """HA's media source with a local folder, and the internal URL HA gives out for it."""
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "doorbell.mp3").write_bytes(b"ID3")
    hass.config.media_dirs = {"local": str(folder)}
    await async_process_ha_core_config(hass, {"internal_url": "http://192.168.1.5:8123"})
    assert await async_setup_component(hass, "media_source", {})
    return folder


def gateway_error(code: str, message: str):
    def _answer(topic: str, command: dict[str, Any]):
        return (
            "naila/devices/kitchen_speaker/events",
            {
                "event": "error",
                "device_id": "kitchen_speaker",
                "request_id": command["request_id"],
                "code": code,
                "message": message,
            },
        )

    return _answer


async def test_announce_of_a_media_source_plays_its_signed_url(
    hass: HomeAssistant, media: Path, responder, mqtt, snapshot: SnapshotAssertion
) -> None:
    await responder(COMMAND_TOPIC, gateway_announced)
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": SATELLITE, "media_id": "media-source://media_source/local/doorbell.mp3"},
        blocking=True,
    )
    [(_, command)] = responder.requests
    url = yarl.URL(command["media_url"])
    signature = url.query["authSig"]  # HA signed it: the gateway fetches it without a token
    assert url.with_query(None) == yarl.URL("http://192.168.1.5:8123/media/local/doorbell.mp3")
    [wire] = [c.args[1] for c in mqtt.async_publish.call_args_list if c.args[0] == COMMAND_TOPIC]
    assert isinstance(wire, bytes)
    assert (
        wire.replace(command["request_id"].encode(), b"<id>").replace(signature.encode(), b"<sig>")
        == snapshot
    )
    assert hass.states.get(SATELLITE).state == "idle"


async def test_announce_of_a_url_without_preannounce(
    hass: HomeAssistant, media: Path, responder
) -> None:
    await responder(COMMAND_TOPIC, gateway_announced)
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {
            "entity_id": SATELLITE,
            "media_id": "https://sounds.example.org/bell.ogg",
            "message": "Doorbell",
            "preannounce": False,
        },
        blocking=True,
    )
    [(_, command)] = responder.requests
    assert command == {
        "command": "announce",
        "request_id": command["request_id"],
        "message": "Doorbell",
        "media_url": "https://sounds.example.org/bell.ogg",  # not Home Assistant's: as given
    }


async def test_media_the_gateway_cannot_play_fails_the_call(
    hass: HomeAssistant, media: Path, responder
) -> None:
    await responder(COMMAND_TOPIC, gateway_error("media_not_audio", "not an audio file"))
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "media_id": "http://192.168.1.9/page.html"},
            blocking=True,
        )
    assert err.value.translation_key == "media_failed"
    assert str(err.value) == (
        "The NAILA gateway could not play the media on kitchen_speaker (media_not_audio): "
        "not an audio file"
    )
    assert hass.states.get(SATELLITE).state == "idle"


@pytest.mark.parametrize(
    "media_id",
    ["media-source://nowhere/x", "bell.mp3"],
)
async def test_media_that_cannot_be_resolved_is_refused_at_once(
    hass: HomeAssistant, media: Path, responder, media_id: str
) -> None:
    await responder(COMMAND_TOPIC, gateway_announced)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "media_id": media_id},
            blocking=True,
        )
    assert err.value.translation_key == "media_unresolvable"
    assert responder.requests == []


async def test_media_without_a_home_assistant_url_is_refused(
    hass: HomeAssistant, speaker: MockConfigEntry, responder, tmp_path: Path
) -> None:
    hass.config.media_dirs = {"local": str(tmp_path)}
    (tmp_path / "doorbell.mp3").write_bytes(b"ID3")
    assert await async_setup_component(hass, "media_source", {})
    await responder(COMMAND_TOPIC, gateway_announced)
    # HA served over TLS with neither an internal nor an external URL set: no URL to give out
    assert hass.config.api is not None
    hass.config.api.use_ssl = True
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "media_id": "media-source://media_source/local/doorbell.mp3"},
            blocking=True,
        )
    assert err.value.translation_key == "media_no_url"
    assert responder.requests == []


async def test_start_conversation_with_a_media_prompt(
    hass: HomeAssistant, media: Path, responder
) -> None:
    agent = _Agent()
    conversation.async_set_agent(hass, media_entry(hass), agent)
    await async_update_pipeline(
        hass, async_get_pipeline(hass), conversation_engine=media_entry(hass).entry_id
    )
    await responder(COMMAND_TOPIC, gateway_announced)
    await hass.services.async_call(
        "assist_satellite",
        "start_conversation",
        {"entity_id": SATELLITE, "start_media_id": "http://192.168.1.9/question.wav"},
        blocking=True,
    )
    [(_, command)] = responder.requests
    assert command["command"] == "start_conversation"
    assert command["media_url"] == "http://192.168.1.9/question.wav"
    assert command["sound"] == "chime"
    conversation.async_unset_agent(hass, media_entry(hass))


def media_entry(hass: HomeAssistant) -> MockConfigEntry:
    [entry] = hass.config_entries.async_entries(DOMAIN)
    return entry  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("device", "gateway_online", "key"),
    [("front_cam", True, "no_speaker"), ("kitchen_speaker", False, "gateway_offline")],
)
async def test_naila_announce_refused_at_once(
    hass: HomeAssistant, speaker: MockConfigEntry, publish, device, gateway_online, key
) -> None:
    publish("naila/gateway/status", {"online": gateway_online, "gateway_id": "gw"})
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "announce",
            {"device_id": device, "message": "Hi"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == key


class _Agent(conversation.AbstractConversationAgent):
    """The user's own agent (an LLM in real life): it records what it is asked."""

    def __init__(self) -> None:
        self.inputs: list[conversation.ConversationInput] = []

    @property
    def supported_languages(self) -> list[str]:
        return ["en"]

    async def async_process(self, user_input: conversation.ConversationInput):
        self.inputs.append(user_input)
        response = conversation.intent.IntentResponse(language="en")
        response.async_set_speech("The kitchen it is.")
        return conversation.ConversationResult(response, user_input.conversation_id)


async def test_start_conversation_then_the_answer_continues_it(
    hass: HomeAssistant, speaker: MockConfigEntry, responder, publish, mqtt
) -> None:
    agent = _Agent()
    conversation.async_set_agent(hass, speaker, agent)
    await async_update_pipeline(
        hass, async_get_pipeline(hass), conversation_engine=speaker.entry_id
    )
    await responder(COMMAND_TOPIC, gateway_announced)
    await hass.services.async_call(
        "assist_satellite",
        "start_conversation",
        {
            "entity_id": SATELLITE,
            "start_message": "Which room should I clean?",
            "preannounce": False,
        },
        blocking=True,
    )
    [(_, command)] = responder.requests
    assert command["command"] == "start_conversation"
    assert command["message"] == "Which room should I clean?"
    assert "sound" not in command
    publish(
        "naila/conversation/request",
        {
            "request_id": "r_answer",
            "device_id": "kitchen_speaker",
            "text": "the kitchen",
            "agent_id": speaker.entry_id,
        },
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    [asked] = agent.inputs
    assert asked.text == "the kitchen"
    assert asked.extra_system_prompt == "Which room should I clean?"
    assert asked.conversation_id
    [answer] = [
        json.loads(c.args[1])
        for c in mqtt.async_publish.call_args_list
        if c.args[0] == "naila/conversation/response/r_answer"
    ]
    assert answer["speech"] == "The kitchen it is."
    conversation.async_unset_agent(hass, speaker)


async def test_a_finished_timer_rings_on_the_device(
    hass: HomeAssistant, speaker: MockConfigEntry, responder, publish, mqtt
) -> None:
    await responder(COMMAND_TOPIC, gateway_announced)
    publish(
        "naila/conversation/request",
        {
            "request_id": "r_timer",
            "device_id": "kitchen_speaker",
            "text": "set a timer for 6 seconds",
        },
    )
    async with asyncio.timeout(20):  # the relay answers while the 6 s timer runs
        while not (  # noqa: ASYNC110 - polls the MQTT mock's call list
            answers := [
                json.loads(c.args[1])
                for c in mqtt.async_publish.call_args_list
                if c.args[0] == "naila/conversation/response/r_timer"
            ]
        ):
            await asyncio.sleep(0.05)
    [answer] = answers
    assert answer["handled"], answer
    assert responder.requests == []
    async with asyncio.timeout(20):  # real time: HA's timer runs 6 s
        await responder.seen.wait()
    [(_, command)] = responder.requests
    assert command["command"] == "announce"
    assert command["sound"] == "timer"
    assert command["message"] == "Your timer is finished"


async def test_camera_entities_are_unavailable_while_the_camera_is_offline(
    hass: HomeAssistant, speaker: MockConfigEntry, publish
) -> None:
    publish("naila/alerts/porch/person_detected", {"source_device": "front_cam"})
    await hass.async_block_till_done()
    camera_entities = ["image.front_cam_snapshot", "binary_sensor.front_cam_person_detected"]
    for entity_id in camera_entities:
        assert hass.states.get(entity_id).state != "unavailable", entity_id
    publish("naila/devices/front_cam/status", {"device_id": "front_cam", "online": False})
    await hass.async_block_till_done()
    for entity_id in camera_entities:
        assert hass.states.get(entity_id).state == "unavailable", entity_id
    # The zone's sensor is not the camera's: it stays.
    assert hass.states.get("binary_sensor.naila_zone_porch_person_detected").state == "on"
