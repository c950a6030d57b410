"""What a user sees of a voice device: a readable name, its turns and announcements in the logbook."""

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import DOMAIN

from .payloads import alert, device_status


async def test_devices_without_a_name_get_a_readable_one(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/devices/kitchen_hub/status", device_status("kitchen_hub"), True)
    publish("naila/devices/hall/status", device_status("hall", name="Hall speaker"), True)
    publish("naila/alerts/yard/person_detected", alert(zone="yard", source="yard-cam"))
    await hass.async_block_till_done()
    registry = dr.async_get(hass)
    names = {
        device_id: registry.async_get_device(identifiers={(DOMAIN, f"naila/devices/{device_id}")})
        for device_id in ("kitchen_hub", "hall", "yard-cam")
    }
    assert {k: d.name for k, d in names.items()} == {
        "kitchen_hub": "Kitchen Hub",
        "hall": "Hall speaker",
        "yard-cam": "Yard Cam",
    }
    assert hass.states.get("binary_sensor.kitchen_hub_connectivity") is not None
