"""Setup and unload of a NAILA entry."""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry


async def test_setup_creates_gateway_and_server(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("binary_sensor.naila_gateway_connectivity") is not None
    print(sorted(hass.states.async_entity_ids()))
