"""A small home in Home Assistant for the end-to-end tests and bench: lights in areas."""

from __future__ import annotations

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component

ROOMS = {"bedroom": "Bedroom", "kitchen": "Kitchen"}
"""Light object id -> area name; every light starts on."""


def _template_light(room: str, name: str) -> dict[str, object]:
    target = {"entity_id": f"input_boolean.{room}_power"}
    return {
        "unique_id": f"{room}_light",
        "friendly_name": f"{name} light",
        "value_template": f"{{{{ is_state('input_boolean.{room}_power', 'on') }}}}",
        "turn_on": {"action": "input_boolean.turn_on", "target": target},
        "turn_off": {"action": "input_boolean.turn_off", "target": target},
    }


async def async_build_home(hass: HomeAssistant) -> None:
    """Areas, template lights in them, HA's conversation with its real default agent."""
    assert await async_setup_component(hass, "homeassistant", {})
    booleans = {f"{room}_power": {"initial": True} for room in ROOMS}
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": booleans})
    lights = {room: _template_light(room, name) for room, name in ROOMS.items()}
    assert await async_setup_component(
        hass, "light", {"light": [{"platform": "template", "lights": lights}]}
    )
    assert await async_setup_component(hass, "conversation", {})
    await hass.async_block_till_done()
    areas, entities = ar.async_get(hass), er.async_get(hass)
    for room, name in ROOMS.items():
        area = areas.async_get_area_by_name(name) or areas.async_create(name)
        entity_id = entities.async_get_entity_id("light", "template", f"{room}_light")
        assert entity_id is not None, f"template light {room} not registered"
        entities.async_update_entity(entity_id, area_id=area.id)
    await hass.async_block_till_done()
    # The default agent loads its sentences on first use (seconds here): do it now, as a
    # running HA has long done before anyone speaks.
    await conversation.async_converse(hass, "what time is it", None, Context(), "en")
