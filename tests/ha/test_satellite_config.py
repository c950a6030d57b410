"""Satellite: wake word from HA's voice settings, refusals for an offline device, interruptions."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import DOMAIN

from .payloads import device_status

SATELLITE = "assist_satellite.kitchen_speaker"
WAKE_WORD = "select.kitchen_speaker_wake_word"
SETTINGS_TOPIC = "naila/devices/kitchen_speaker/settings"


@pytest.fixture
async def speaker(hass: HomeAssistant, entry: MockConfigEntry, publish) -> MockConfigEntry:
    assert await async_setup_component(hass, "assist_pipeline", {})
    publish("naila/gateway/status", {"online": True, "gateway_id": "gw"}, True)
    publish(
        "naila/devices/kitchen_speaker/status",
        device_status("kitchen_speaker", name="Kitchen speaker"),
        True,
    )
    await hass.async_block_till_done()
    return entry


def _settings(mqtt: Any) -> list[dict[str, Any]]:
    return [
        json.loads(call.args[1])
        for call in mqtt.async_publish.call_args_list
        if call.args[0] == SETTINGS_TOPIC
    ]


async def test_the_wake_word_is_chosen_in_home_assistants_voice_settings(
    hass: HomeAssistant, mqtt, speaker: MockConfigEntry, hass_ws_client
) -> None:
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "assist_satellite/get_configuration", "entity_id": SATELLITE}
    )
    config = (await client.receive_json())["result"]
    assert config["active_wake_words"] == ["okay_nabu"]
    assert config["max_active_wake_words"] == 1
    assert {w["id"] for w in config["available_wake_words"]} == {
        "okay_nabu",
        "hey_jarvis",
        "alexa",
        "hey_mycroft",
    }

    await client.send_json_auto_id(
        {
            "type": "assist_satellite/set_wake_words",
            "entity_id": SATELLITE,
            "wake_word_ids": ["hey_jarvis"],
        }
    )
    assert (await client.receive_json())["success"]
    await hass.async_block_till_done()

    # Published retained for the gateway, shown by the device's select, read back by HA.
    assert [s.get("wake_word") for s in _settings(mqtt)] == ["hey_jarvis"]
    assert hass.states.get(WAKE_WORD).state == "hey_jarvis"
    await client.send_json_auto_id(
        {"type": "assist_satellite/get_configuration", "entity_id": SATELLITE}
    )
    assert (await client.receive_json())["result"]["active_wake_words"] == ["hey_jarvis"]


async def test_a_cleared_settings_topic_keeps_the_choices(
    hass: HomeAssistant, mqtt, speaker: MockConfigEntry, publish
) -> None:
    publish(SETTINGS_TOPIC, {"device_id": "kitchen_speaker", "wake_word": "alexa"}, True)
    await hass.async_block_till_done()
    assert hass.states.get(WAKE_WORD).state == "alexa"
    # Someone cleared the retained message: the broker hands the empty payload on live.
    publish(SETTINGS_TOPIC, "")
    await hass.async_block_till_done()
    assert hass.states.get(WAKE_WORD).state == "alexa"
    assert sum(speaker.runtime_data.hub.rejected.values()) == 0  # no bad message either
    assert _settings(mqtt) == []


async def test_announce_to_an_offline_speaker_is_refused_at_once(
    hass: HomeAssistant, speaker: MockConfigEntry, publish, responder
) -> None:
    await responder("naila/devices/kitchen_speaker/command", None)
    publish(
        "naila/devices/kitchen_speaker/status", {"device_id": "kitchen_speaker", "online": False}
    )
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "announce",
            {"device_id": "kitchen_speaker", "message": "Hi"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "device_offline"
    assert responder.requests == []


async def test_an_interrupted_announcement_fails_the_call(
    hass: HomeAssistant, speaker: MockConfigEntry, responder
) -> None:
    def gateway(topic: str, command: dict[str, Any]):
        return (
            "naila/devices/kitchen_speaker/events",
            {
                "event": "interrupted",
                "device_id": "kitchen_speaker",
                "request_id": command["request_id"],
            },
        )

    await responder("naila/devices/kitchen_speaker/command", gateway)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "message": "Dinner is ready"},
            blocking=True,
        )
    assert err.value.translation_key == "announce_failed"
    assert "interrupted" in str(err.value)


async def test_a_timer_that_cannot_ring_logs_one_warning(
    hass: HomeAssistant, mqtt, speaker: MockConfigEntry, publish, responder, caplog
) -> None:
    await responder("naila/devices/kitchen_speaker/command", None)
    # The gateway goes offline before the timer is set: it finishes while nothing can play it.
    publish("naila/gateway/status", {"online": False, "gateway_id": "gw"}, False)
    await hass.async_block_till_done()
    publish(
        "naila/conversation/request",
        {
            "request_id": "r_timer",
            "device_id": "kitchen_speaker",
            "text": "set a timer for 1 second",
        },
    )
    answer_topic = "naila/conversation/response/r_timer"
    async with asyncio.timeout(120):  # the first request loads the intents
        while not any(c.args[0] == answer_topic for c in mqtt.async_publish.call_args_list):  # noqa: ASYNC110 - polls the MQTT mock's call list
            await asyncio.sleep(0.05)
    (answer,) = [json.loads(c.args[1]) for c in mqtt.async_publish.call_args_list
                 if c.args[0] == answer_topic]  # fmt: skip
    assert answer["handled"], answer

    with caplog.at_level(logging.WARNING, logger="custom_components.naila"):
        async with asyncio.timeout(30):  # real time: HA's timer runs 1 s
            while "Timer could not ring on kitchen_speaker" not in caplog.text:  # noqa: ASYNC110 - waits for HA's timer
                await asyncio.sleep(0.05)
        await hass.async_block_till_done()
    assert caplog.text.count("Timer could not ring on kitchen_speaker") == 1
    assert "gateway is offline" in caplog.text
    assert "Traceback" not in caplog.text
    assert responder.requests == []  # nothing was sent to a device that cannot play it
