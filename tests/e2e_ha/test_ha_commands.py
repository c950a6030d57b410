"""Spoken home commands through the whole product: device -> gateway -> AI server -> the NAILA
integration -> Home Assistant's real default agent -> the light changes and the device hears
HA's confirmation; what HA does not handle, everything while the integration is offline, and
what an online integration never answers (its agent hangs), the LLM answers."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator

import pytest
from homeassistant.components import conversation
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.core import Context, HomeAssistant, callback
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import CONF_PREFIX, DOMAIN
from tests.ha.home import async_setup_home
from tests.ha.real_broker import until

HA_TIMEOUT_S = 1.5
BEDROOM, KITCHEN = "light.bedroom_light", "light.kitchen_light"
AGENT_SELECT = "select.bedroom_speaker_conversation_agent"


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture
async def naila_entry(
    hass: HomeAssistant, real_mqtt: MockConfigEntry
) -> AsyncGenerator[MockConfigEntry]:
    """The home (lights in areas, HA's default agent) and the NAILA integration on the broker."""
    await async_setup_home(hass)
    for light in (BEDROOM, KITCHEN):
        await hass.services.async_call("light", "turn_on", {"entity_id": light}, blocking=True)
    # The default agent loads its sentences on first use (seconds here): do it now, as a
    # running HA has long done before anyone speaks.
    await conversation.async_converse(hass, "what time is it", None, Context(), "en")
    entry = MockConfigEntry(domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.timeout(900)
async def test_home_commands_jokes_and_the_integration_going_away(
    hass: HomeAssistant, naila_entry: MockConfigEntry, naila
) -> None:
    stack = await naila("--ha-timeout", str(HA_TIMEOUT_S))

    # slower than espeak-ng's default: at 160 words a minute tiny.en at times hears "Madroom"
    lights = await stack.say("turn off the bedroom lights", words_per_minute=120)
    assert (lights["route"], lights["route_reason"]) == ("ha", "handled"), lights["transcript"]
    await until(lambda: hass.states.get(BEDROOM).state == "off")
    assert hass.states.get(KITCHEN).state == "on"
    assert "turned off" in lights["reply"].lower(), lights
    assert {"off", "lights"} <= words(lights["heard"]), lights  # the device heard HA's answer
    assert 0 < lights["timings"]["ha_ms"] < HA_TIMEOUT_S * 1000

    joke = await stack.say("tell me a joke")
    assert joke["route"] == "llm" and joke["route_reason"] != "handled", joke
    assert joke["reply"] and joke["heard"], joke
    # HA did not handle it (its error code), or on a loaded machine did not answer in time
    assert joke["route_reason"] not in ("integration_offline", "bad_response"), joke

    assert await hass.config_entries.async_unload(naila_entry.entry_id)  # integration offline
    await hass.async_block_till_done()
    offline = await stack.say("turn on the kitchen lights")
    assert (offline["route"], offline["route_reason"]) == ("llm", "integration_offline"), offline
    assert offline["reply"] and offline["heard"] and "ha_ms" not in offline["timings"]
    assert hass.states.get(KITCHEN).state == "on"


class StuckAgent(conversation.AbstractConversationAgent):
    """A conversation agent that never answers (an LLM agent whose backend hangs)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    @property
    def supported_languages(self) -> list[str]:
        return ["en"]

    async def async_process(
        self, user_input: conversation.ConversationInput
    ) -> conversation.ConversationResult:
        self.asked.append(user_input.text)
        await asyncio.Event().wait()  # until the integration gives up on it (cancelled)
        raise AssertionError("a stuck agent never answers")


@pytest.mark.timeout(900)
async def test_an_integration_that_never_answers_falls_back_to_the_llm_at_the_deadline(
    hass: HomeAssistant, naila_entry: MockConfigEntry, naila
) -> None:
    retained: list[str | bytes] = []
    unsubscribe = await ha_mqtt.async_subscribe(
        hass, "naila/integration/status", callback(lambda msg: retained.append(msg.payload)), 1
    )
    await until(lambda: bool(retained))
    unsubscribe()
    assert json.loads(retained[-1])["online"] is True  # the server sees the integration online
    agent_entry = MockConfigEntry(domain="stuck_agent", title="Stuck agent")
    agent_entry.add_to_hass(hass)
    agent = StuckAgent()
    conversation.async_set_agent(hass, agent_entry, agent)
    stack = await naila("--ha-timeout", str(HA_TIMEOUT_S))
    await until(lambda: hass.states.get(AGENT_SELECT) is not None, 30)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": AGENT_SELECT, "option": "Stuck agent"},
        blocking=True,
    )

    turn = await stack.say("turn off the bedroom lights", words_per_minute=120)

    assert (turn["route"], turn["route_reason"]) == ("llm", "timeout"), turn
    assert turn["reply"] and turn["heard"], turn  # the device heard the LLM's answer
    assert turn["timings"]["ha_ms"] >= HA_TIMEOUT_S * 1000, turn  # it waited out the deadline
    assert agent.asked and "bedroom" in agent.asked[0].lower(), agent.asked  # HA was asked
    assert hass.states.get(BEDROOM).state == "on"  # the stuck agent did nothing, nor did the LLM
    conversation.async_unset_agent(hass, agent_entry)
