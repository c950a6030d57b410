"""Setup, service descriptions and the MQTT dependency."""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.service import async_get_all_descriptions
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import CONF_PREFIX, DOMAIN


async def test_setup_creates_gateway_and_server(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    assert entry.state is ConfigEntryState.LOADED
    registry = dr.async_get(hass)
    gateway = registry.async_get_device(identifiers={(DOMAIN, "naila/gateway")})
    server = registry.async_get_device(identifiers={(DOMAIN, "naila/server")})
    assert (gateway.name, server.name) == ("NAILA gateway", "NAILA AI server")
    state = hass.states.get("binary_sensor.naila_gateway_connectivity")
    assert state.attributes["friendly_name"] == "NAILA gateway Connectivity"
    assert (
        hass.states.get("sensor.naila_gateway_cpu_usage").attributes["friendly_name"]
        == "NAILA gateway CPU usage"
    )


async def test_service_descriptions(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    assert set(descriptions) == {"request_snapshot", "announce", "ask"}
    assert descriptions["ask"]["name"] == "Ask"
    assert set(descriptions["ask"]["fields"]) == {
        "text",
        "device_id",
        "config_entry_id",
        "image_entity_id",
        "image_path",
        "timeout",
    }
    assert descriptions["announce"]["fields"]["message"]["required"] is True


async def test_setup_retries_without_mqtt(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"})
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason == "Home Assistant's MQTT integration is not available"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "mqtt_missing")
    assert issue is not None and issue.translation_key == "mqtt_missing"


async def test_online_offline_transitions_are_logged_once(
    hass: HomeAssistant, entry: MockConfigEntry, publish, caplog
) -> None:
    for online in (True, False, False, True):
        publish("naila/gateway/status", {"online": online, "gateway_id": "gw"})
        publish("naila/devices/d1/status", {"device_id": "d1", "online": online})
        await hass.async_block_till_done()
    assert caplog.text.count("NAILA gateway went offline") == 1
    assert caplog.text.count("NAILA gateway is back online") == 1
    assert caplog.text.count("NAILA device d1 went offline") == 1
    assert caplog.text.count("NAILA device d1 is back online") == 1
