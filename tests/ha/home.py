"""A small home of real HA entities in areas, for the default conversation agent's intents."""

from __future__ import annotations

from typing import Any

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component

ACTION = [{"event": "naila_test_action"}]
AREAS = {
    "light.bedroom_light": "Bedroom",
    "light.kitchen_light": "Kitchen",
    "climate.thermostat": "Living room",
    "lock.front_door": "Hallway",
    "cover.garage_door": "Garage",
    "cover.office_blinds": "Office",
}


def _config() -> dict[str, Any]:
    return {
        "input_boolean": {"front_door_locked": {"initial": False}, "heater": {}},
        "light": [
            {
                "platform": "template",
                "lights": {
                    "bedroom_light": {
                        "unique_id": "bedroom_light",
                        "friendly_name": "Bedroom light",
                        "turn_on": ACTION,
                        "turn_off": ACTION,
                    },
                    "kitchen_light": {
                        "unique_id": "kitchen_light",
                        "friendly_name": "Kitchen light",
                        "turn_on": ACTION,
                        "turn_off": ACTION,
                        "set_level": ACTION,
                    },
                },
            }
        ],
        "lock": [
            {
                "platform": "template",
                "unique_id": "front_door",
                "name": "Front door",
                "value_template": "{{ is_state('input_boolean.front_door_locked', 'on') }}",
                "lock": [
                    {
                        "action": "input_boolean.turn_on",
                        "target": {"entity_id": "input_boolean.front_door_locked"},
                    }
                ],
                "unlock": [
                    {
                        "action": "input_boolean.turn_off",
                        "target": {"entity_id": "input_boolean.front_door_locked"},
                    }
                ],
            }
        ],
        "cover": [
            {
                "platform": "template",
                "covers": {
                    "garage_door": {
                        "unique_id": "garage_door",
                        "friendly_name": "Garage door",
                        "device_class": "garage",
                        "open_cover": ACTION,
                        "close_cover": ACTION,
                    },
                    "office_blinds": {
                        "unique_id": "office_blinds",
                        "friendly_name": "Office blinds",
                        "device_class": "blind",
                        "open_cover": ACTION,
                        "close_cover": ACTION,
                        "set_cover_position": ACTION,
                    },
                },
            }
        ],
        "template": [
            {
                "sensor": [
                    {
                        "name": "Room temperature",
                        "unique_id": "room_temperature",
                        "state": "19.5",
                        "unit_of_measurement": "°C",
                        "device_class": "temperature",
                    }
                ]
            }
        ],
        "climate": [
            {
                "platform": "generic_thermostat",
                "name": "Thermostat",
                "unique_id": "thermostat",
                "heater": "input_boolean.heater",
                "target_sensor": "sensor.room_temperature",
                "target_temp": 18,
            }
        ],
        "weather": [
            {
                "platform": "template",
                "name": "Home",
                "unique_id": "home_weather",
                "condition_template": "sunny",
                "temperature_template": "{{ 22 }}",
                "temperature_unit": "°C",
                "humidity_template": "{{ 40 }}",
            }
        ],
    }


async def async_setup_home(hass: HomeAssistant) -> None:
    """Set up conversation, intents and the home's entities, each in its area."""
    assert await async_setup_component(hass, "homeassistant", {})
    config = _config()
    for domain in ("input_boolean", "template", "light", "lock", "cover", "climate", "weather"):
        assert await async_setup_component(hass, domain, {domain: config[domain]}), domain
    assert await async_setup_component(hass, "intent", {})
    assert await async_setup_component(hass, "conversation", {})
    await hass.async_block_till_done()
    for entity_id in ("lock.front_door", "cover.garage_door", "weather.home"):  # not by default
        async_expose_entity(hass, conversation.DOMAIN, entity_id, True)
    areas = ar.async_get(hass)
    entities = er.async_get(hass)
    for entity_id, area_name in AREAS.items():
        area = areas.async_get_area_by_name(area_name) or areas.async_create(area_name)
        assert entities.async_get(entity_id), entity_id
        entities.async_update_entity(entity_id, area_id=area.id)
    await hass.async_block_till_done()
