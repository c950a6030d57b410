"""Spoken home commands through the whole product: device -> gateway -> AI server -> Home
Assistant's default agent -> the light changes and the device hears HA's confirmation."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.ha.real_broker import until

from .home import async_build_home
from .relay import Relay

HA_TIMEOUT_S = 1.5


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture
async def home(hass: HomeAssistant, real_mqtt: MockConfigEntry) -> AsyncGenerator[Relay]:
    """HA's real MQTT client on the broker, a home with lights, and the conversation relay."""
    await async_build_home(hass)
    relay = Relay(hass)
    await relay.start()
    yield relay
    await relay.stop()


@pytest.mark.timeout(900)
async def test_home_commands_jokes_and_ha_going_away(
    hass: HomeAssistant, home: Relay, naila
) -> None:
    stack = await naila("--ha-timeout", str(HA_TIMEOUT_S))
    assert hass.states.get("light.bedroom").state == "on"

    lights = await stack.say("turn off the bedroom lights")
    assert (lights["route"], lights["route_reason"]) == ("ha", "handled"), lights
    await until(lambda: hass.states.get("light.bedroom").state == "off")
    assert hass.states.get("light.kitchen").state == "on"
    speech, _agent_ms = home.answered[-1]
    assert lights["reply"] == speech and "turned off" in speech.lower()
    assert {"turned", "off"} <= words(lights["heard"]), lights  # the device heard it
    assert 0 < lights["timings"]["ha_ms"] < HA_TIMEOUT_S * 1000

    joke = await stack.say("tell me a joke")
    assert joke["route"] == "llm" and joke["route_reason"] != "handled", joke
    assert joke["reply"] and joke["heard"], joke

    home.paused = True  # online, but the agent never answers: the deadline applies
    started = time.monotonic()
    hung = await stack.say("turn on the kitchen lights")
    assert (hung["route"], hung["route_reason"]) == ("llm", "timeout"), hung
    assert HA_TIMEOUT_S * 1000 <= hung["timings"]["ha_ms"] < HA_TIMEOUT_S * 1000 + 500
    assert hung["reply"] and time.monotonic() - started < 60

    await home.stop()  # the integration goes offline: no request, the LLM at once
    offline = await stack.say("turn on the kitchen lights")
    assert (offline["route"], offline["route_reason"]) == ("llm", "integration_offline"), offline
    assert offline["reply"] and "ha_ms" not in offline["timings"]
    assert hass.states.get("light.kitchen").state == "on"
