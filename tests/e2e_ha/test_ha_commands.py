"""Spoken home commands through the whole product: device -> gateway -> AI server -> the NAILA
integration -> Home Assistant's real default agent -> the light changes and the device hears
HA's confirmation; what HA does not handle, and everything while the integration is offline,
the LLM answers."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator

import pytest
from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import CONF_PREFIX, DOMAIN
from tests.ha.home import async_setup_home
from tests.ha.real_broker import until

HA_TIMEOUT_S = 1.5
BEDROOM, KITCHEN = "light.bedroom_light", "light.kitchen_light"


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
