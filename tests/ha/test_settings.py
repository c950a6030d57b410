"""Integration status and the per-device settings selects: what is published, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import CONF_PREFIX, DOMAIN

from .payloads import camera_status, device_status

SELECTS = {
    "select.kitchen_speaker_conversation": "ha_then_naila",
    "select.kitchen_speaker_conversation_agent": "Home Assistant",
    "select.kitchen_speaker_listening_mode": "wake_word",
    "select.kitchen_speaker_wake_word": "okay_nabu",
}


def published(mqtt: Any, topic: str) -> list[tuple[bytes, int, bool]]:
    return [tuple(c.args[1:]) for c in mqtt.async_publish.call_args_list if c.args[0] == topic]


@pytest.fixture
async def speaker(hass: HomeAssistant, entry: MockConfigEntry, publish) -> None:
    publish(
        "naila/devices/kitchen_speaker/status",
        device_status("kitchen_speaker", name="Kitchen speaker"),
        True,
    )
    publish("naila/devices/front_cam/status", camera_status("front_cam"), True)
    await hass.async_block_till_done()


async def test_status_online_on_setup_offline_on_unload(hass: HomeAssistant, mqtt, freezer) -> None:
    freezer.move_to("2026-12-03T08:00:00Z")
    config_entry = MockConfigEntry(domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"})
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    online = b'{"online":true,"version":"0.1.0","timestamp":"2026-12-03T08:00:00Z"}'
    assert published(mqtt, "naila/integration/status") == [(online, 1, True)]
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    offline = b'{"online":false,"version":"0.1.0","timestamp":"2026-12-03T08:00:00Z"}'
    assert published(mqtt, "naila/integration/status") == [(online, 1, True), (offline, 1, True)]


async def test_voice_devices_get_four_selects_with_defaults(
    hass: HomeAssistant, mqtt, speaker: None
) -> None:
    for entity_id, state in SELECTS.items():
        assert hass.states.get(entity_id).state == state, entity_id
    assert (
        "Home Assistant"
        in hass.states.get("select.kitchen_speaker_conversation_agent").attributes["options"]
    )
    assert not [e for e in hass.states.async_entity_ids("select") if "front_cam" in e]


async def test_choosing_publishes_retained_settings(
    hass: HomeAssistant, mqtt, speaker: None, freezer
) -> None:
    freezer.move_to("2026-12-03T08:00:00Z")
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.kitchen_speaker_conversation", "option": "ha_only"},
        blocking=True,
    )
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.kitchen_speaker_wake_word", "option": "hey_jarvis"},
        blocking=True,
    )
    assert published(mqtt, "naila/devices/kitchen_speaker/settings") == [
        (
            b'{"device_id":"kitchen_speaker","conversation":"ha_only",'
            b'"timestamp":"2026-12-03T08:00:00Z"}',
            1,
            True,
        ),
        (
            b'{"device_id":"kitchen_speaker","conversation":"ha_only","wake_word":"hey_jarvis",'
            b'"timestamp":"2026-12-03T08:00:00Z"}',
            1,
            True,
        ),
    ]
    assert hass.states.get("select.kitchen_speaker_conversation").state == "ha_only"


async def test_settings_from_the_broker_update_the_selects(
    hass: HomeAssistant, mqtt, speaker: None, publish
) -> None:
    publish(
        "naila/devices/kitchen_speaker/settings",
        {"device_id": "kitchen_speaker", "listening_mode": "always"},
    )
    publish(
        "naila/devices/kitchen_speaker/settings",
        {"device_id": "kitchen_speaker", "wake_word": "bogus"},
    )
    await hass.async_block_till_done()
    assert hass.states.get("select.kitchen_speaker_listening_mode").state == "always"
    assert hass.states.get("select.kitchen_speaker_wake_word").state == "okay_nabu"
    assert published(mqtt, "naila/devices/kitchen_speaker/settings") == []
