"""Which devices the services' pickers offer and accept; pictures from NAILA's image entities."""

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import selector
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import DOMAIN

from .payloads import JPEG, alert, camera_status, device_status
from .test_services import _call, _server, _snapshot_reply

SERVICES_YAML = Path(__file__).parents[2] / "custom_components" / "naila" / "services.yaml"


@pytest.fixture
async def home(hass: HomeAssistant, entry: MockConfigEntry, publish) -> dict[str, str]:
    """A camera, a speaker, a microphone-only device, a zone, the gateway and the server."""
    publish("naila/devices/front_cam/status", camera_status("front_cam", zone="porch"), True)
    publish("naila/devices/kitchen/status", device_status("kitchen"), True)
    publish("naila/devices/mic/status", device_status("mic", capabilities=["audio"]), True)
    publish("naila/alerts/front_door/person_detected", alert())
    await hass.async_block_till_done()
    registry = dr.async_get(hass)
    return {
        name: registry.async_get_device(identifiers={(DOMAIN, f"naila/{suffix}")}).id
        for name, suffix in (
            ("front_cam", "devices/front_cam"),
            ("kitchen", "devices/kitchen"),
            ("mic", "devices/mic"),
            ("zone", "zones/front_door"),
            ("gateway", "gateway"),
            ("server", "server"),
        )
    }


def _offered(hass: HomeAssistant, config: dict[str, Any]) -> set[str]:
    """The devices a device selector offers, by the selector's filter rules."""
    selector.selector({"device": config})  # HA accepts the selector as written
    entities = er.async_get(hass)
    offered = set()
    for device in dr.async_get(hass).devices.values():
        device_entities = er.async_entries_for_device(entities, device.id)
        for rule in config["filter"]:
            in_integration = any(
                hass.config_entries.async_get_entry(entry_id).domain == rule["integration"]
                for entry_id in device.config_entries
            )
            has_entity = any(
                e.platform == wanted.get("integration", e.platform)
                and e.domain in wanted.get("domain", [e.domain])
                for wanted in rule.get("entity", [{}])
                for e in device_entities
            )
            if in_integration and has_entity:
                offered.add(device.id)
    return offered


@pytest.mark.parametrize(
    ("service", "wanted"),
    [
        ("announce", {"kitchen"}),
        ("ask", {"kitchen", "mic", "front_cam"}),
        ("request_snapshot", {"front_cam"}),
    ],
)
async def test_device_pickers_offer_only_matching_devices(
    hass: HomeAssistant, home: dict[str, str], service: str, wanted: set[str]
) -> None:
    services = yaml.safe_load(SERVICES_YAML.read_text())
    config = services[service]["fields"]["device_id"]["selector"]["device"]
    assert _offered(hass, config) == {home[name] for name in wanted}


@pytest.mark.parametrize("service", ["announce", "ask", "request_snapshot"])
@pytest.mark.parametrize("target", ["zone", "gateway", "server"])
async def test_a_device_that_is_not_naila_voice_or_camera_is_refused_by_name(
    hass: HomeAssistant, home: dict[str, str], service: str, target: str
) -> None:
    data = {"device_id": home[target], "message": "Hi", "text": "Hi"}
    data = {k: v for k, v in data.items() if k == "device_id" or service in _TEXT[k]}
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, service, data)
    assert err.value.translation_key == "not_a_naila_device"
    message = str(err.value)
    assert home[target] not in message
    name = dr.async_get(hass).async_get(home[target]).name
    assert message.startswith(f"{name} is not a NAILA voice device or camera")


_TEXT = {"message": ("announce",), "text": ("ask",)}


async def test_announce_to_a_camera_known_only_from_its_alerts_is_refused(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/alerts/yard/person_detected", alert(zone="yard", source="yard_cam"))
    await hass.async_block_till_done()
    camera = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "naila/devices/yard_cam")})
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "announce", {"device_id": camera.id, "message": "Hi"}, False)
    assert err.value.translation_key == "no_speaker"


async def test_request_snapshot_without_response_updates_the_image(
    hass: HomeAssistant, home: dict[str, str], responder
) -> None:
    await responder("naila/devices/front_cam/media/request", _snapshot_reply)
    result = await _call(hass, "request_snapshot", {"device_id": home["front_cam"]}, False)
    assert result is None
    assert hass.states.get("image.front_cam_snapshot").state == "2026-01-15T10:30:00+00:00"


async def test_ask_about_a_naila_snapshot_image(
    hass: HomeAssistant, home: dict[str, str], responder
) -> None:
    await responder("naila/devices/front_cam/media/request", _snapshot_reply)
    await _call(hass, "request_snapshot", {"device_id": "front_cam"}, False)
    await responder("naila/uploads/+/image", _server())
    result = await _call(
        hass, "ask", {"text": "Who is there?", "image_entity_id": "image.front_cam_snapshot"}
    )
    [(_, upload)] = [r for r in responder.requests if "/uploads/" in r[0]]
    assert base64.b64decode(upload["data"]) == JPEG
    assert upload["format"] == "jpeg"
    assert upload["filename"] == "image.front_cam_snapshot.jpeg"
    assert result["answer"] == "Yes, a parcel."


async def test_ask_about_an_image_without_a_picture_yet(
    hass: HomeAssistant, home: dict[str, str]
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "ask", {"text": "Who is there?", "image_entity_id": "image.front_cam_snapshot"}
        )
    assert err.value.translation_key == "image_empty"
