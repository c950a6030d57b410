"""Services: naila.request_snapshot, naila.announce and naila.ask (with response data)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import voluptuous as vol
from homeassistant.components import camera
from homeassistant.components.image.const import DATA_COMPONENT as IMAGE_COMPONENT
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .checks import check_can_speak
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DEVICE_ID,
    ATTR_IMAGE_ENTITY,
    ATTR_IMAGE_PATH,
    ATTR_MESSAGE,
    ATTR_QUALITY,
    ATTR_RESOLUTION,
    ATTR_TEXT,
    ATTR_TIMEOUT,
    DEFAULT_ANNOUNCE_TIMEOUT,
    DEFAULT_ASK_TIMEOUT,
    DEFAULT_SNAPSHOT_TIMEOUT,
    DOMAIN,
    MAX_UPLOAD_FILE_BYTES,
    SERVICE_ANNOUNCE,
    SERVICE_ASK,
    SERVICE_REQUEST_SNAPSHOT,
)
from .hub import NailaHub

_IMAGE_FORMATS = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".png": "png",
    ".webp": "webp",
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
}


def _timeout(default: float) -> dict[vol.Marker, Any]:
    return {
        vol.Optional(ATTR_TIMEOUT, default=default): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=600)
        )
    }


REQUEST_SNAPSHOT_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Optional(ATTR_RESOLUTION, default="1280x720"): cv.matches_regex(
            r"^[0-9]{2,5}x[0-9]{2,5}$"
        ),
        vol.Optional(ATTR_QUALITY, default=85): vol.All(vol.Coerce(int), vol.Range(1, 100)),
        **_timeout(DEFAULT_SNAPSHOT_TIMEOUT),
    }
)
ANNOUNCE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Required(ATTR_MESSAGE): vol.All(cv.string, vol.Length(min=1, max=2000)),
        **_timeout(DEFAULT_ANNOUNCE_TIMEOUT),
    }
)
ASK_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_TEXT): vol.All(cv.string, vol.Length(min=1, max=4000)),
        vol.Optional(ATTR_DEVICE_ID): cv.string,
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Exclusive(ATTR_IMAGE_ENTITY, "image"): cv.entity_domain(["camera", "image"]),
        vol.Exclusive(ATTR_IMAGE_PATH, "image"): cv.string,
        **_timeout(DEFAULT_ASK_TIMEOUT),
    }
)


def _error(cls: type[HomeAssistantError], key: str, **placeholders: Any) -> HomeAssistantError:
    return cls(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={k: str(v) for k, v in placeholders.items()},
    )


def _hubs(hass: HomeAssistant) -> list[NailaHub]:
    hubs = [entry.runtime_data.hub for entry in hass.config_entries.async_loaded_entries(DOMAIN)]
    if not hubs:
        raise _error(ServiceValidationError, "not_loaded")
    return hubs


def _resolve_device(hass: HomeAssistant, value: str) -> tuple[NailaHub, str]:
    """Find the hub and NAILA device id for a device registry id or a NAILA device id.

    A registry device that is not a NAILA device (a zone, the gateway, the AI server, another
    integration's device) is refused with its name, never with its registry id.
    """
    hubs = _hubs(hass)
    if device := dr.async_get(hass).async_get(value):
        for hub in hubs:
            head = f"{hub.prefix}/devices/"
            for domain, identifier in device.identifiers:
                tail = identifier.removeprefix(head)
                if domain == DOMAIN and tail != identifier and "/" not in tail:
                    return hub, tail
        name = device.name_by_user or device.name or device.model or value
        raise _error(ServiceValidationError, "not_a_naila_device", device=name)
    for hub in hubs:
        if value in hub.device_ids:
            return hub, value
    raise _error(ServiceValidationError, "unknown_device", device=value)


def _resolve_hub(hass: HomeAssistant, call: ServiceCall) -> tuple[NailaHub, str | None]:
    """The hub for `naila.ask`: the device's, the given entry's, or the only one loaded."""
    if device := call.data.get(ATTR_DEVICE_ID):
        return _resolve_device(hass, device)
    hubs = _hubs(hass)
    if entry_id := call.data.get(ATTR_CONFIG_ENTRY_ID):
        for hub in hubs:
            if hub.entry.entry_id == entry_id:
                return hub, None
        raise _error(ServiceValidationError, "unknown_entry", entry=entry_id)
    if len(hubs) > 1:
        raise _error(ServiceValidationError, "ambiguous_entry")
    return hubs[0], None


def _check_online(hub: NailaHub, device_id: str) -> None:
    status = hub.devices.get(device_id)
    if status is not None and not status.online:
        raise _error(HomeAssistantError, "device_offline", device=device_id)


def _new_id(kind: str) -> str:
    return f"{kind}_{uuid.uuid4().hex[:16]}"


async def _async_request_snapshot(call: ServiceCall) -> ServiceResponse:
    hub, device_id = _resolve_device(call.hass, call.data[ATTR_DEVICE_ID])
    status = hub.devices.get(device_id)
    if not (status.has_camera if status is not None else device_id in hub.cameras):
        raise _error(ServiceValidationError, "not_a_camera", device=device_id)
    _check_online(hub, device_id)
    request_id = _new_id("req")
    params = {
        "resolution": call.data[ATTR_RESOLUTION],
        "format": "jpeg",
        "quality": call.data[ATTR_QUALITY],
    }
    timeout = call.data[ATTR_TIMEOUT]
    try:
        snapshot = await hub.requests.async_request_snapshot(device_id, request_id, params, timeout)
    except TimeoutError as err:
        raise _error(
            HomeAssistantError, "snapshot_timeout", device=device_id, seconds=timeout
        ) from err
    if not call.return_response:
        return None  # the picture is on the camera's image entity already
    return {
        "device_id": device_id,
        "request_id": request_id,
        "content_type": snapshot.content_type,
        "format": snapshot.image_format,
        "width": snapshot.width,
        "height": snapshot.height,
        "timestamp": snapshot.timestamp.isoformat() if snapshot.timestamp else None,
        "size": len(snapshot.image),
        "image": base64.b64encode(snapshot.image).decode("ascii"),
    }


async def _async_announce(call: ServiceCall) -> ServiceResponse:
    hub, device_id = _resolve_device(call.hass, call.data[ATTR_DEVICE_ID])
    check_can_speak(hub, device_id)
    request_id = _new_id("ann")
    timeout = call.data[ATTR_TIMEOUT] if call.return_response else None
    try:
        event = await hub.requests.async_announce(
            device_id, call.data[ATTR_MESSAGE], request_id, timeout
        )
    except TimeoutError as err:
        raise _error(
            HomeAssistantError, "announce_timeout", device=device_id, seconds=timeout
        ) from err
    if event is None:
        return None
    if event.event != "announced":
        message = event.data.get("message")
        raise _error(
            HomeAssistantError,
            "announce_failed",
            device=device_id,
            message=message[:300] if isinstance(message, str) else event.event,
        )
    return {"device_id": device_id, "request_id": request_id, "status": "announced"}


def _read_image_file(path: str) -> bytes:
    """Read an image file in the executor, refusing anything too large."""
    file = Path(path)
    if not file.is_file():
        raise _error(ServiceValidationError, "file_unreadable", path=path)
    if file.stat().st_size > MAX_UPLOAD_FILE_BYTES:
        raise _error(ServiceValidationError, "file_too_large", path=path)
    try:
        return file.read_bytes()
    except OSError as err:
        raise _error(ServiceValidationError, "file_unreadable", path=path) from err


async def _async_entity_picture(hass: HomeAssistant, entity_id: str) -> tuple[bytes, str]:
    """(bytes, content type) of a camera's current picture or an image entity's image."""
    if entity_id.startswith("image."):
        component = hass.data.get(IMAGE_COMPONENT)
        entity = component.get_entity(entity_id) if component is not None else None
        content = await entity.async_image() if entity is not None else None
        if entity is None or not content:
            raise _error(ServiceValidationError, "image_empty", entity=entity_id)
        return content, entity.content_type
    try:
        image = await camera.async_get_image(hass, entity_id)
    except HomeAssistantError as err:
        raise _error(ServiceValidationError, "camera_failed", entity=entity_id) from err
    return image.content, image.content_type


async def _async_image_for_ask(
    hass: HomeAssistant, call: ServiceCall
) -> tuple[bytes, str, str] | None:
    """(bytes, format, filename) of the image to upload with a question, if any."""
    if entity_id := call.data.get(ATTR_IMAGE_ENTITY):
        content, content_type = await _async_entity_picture(hass, entity_id)
        picture_format = _IMAGE_FORMATS.get(content_type.split(";")[0].strip(), "jpeg")
        return content, picture_format, f"{entity_id}.{picture_format}"
    if path := call.data.get(ATTR_IMAGE_PATH):
        if not await hass.async_add_executor_job(hass.config.is_allowed_path, path):
            raise _error(ServiceValidationError, "path_not_allowed", path=path)
        file_format = _IMAGE_FORMATS.get(Path(path).suffix.lower())
        if file_format is None:
            raise _error(ServiceValidationError, "unsupported_file", path=path)
        content = await hass.async_add_executor_job(_read_image_file, path)
        return content, file_format, Path(path).name
    return None


async def _async_ask(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    hub, device_id = _resolve_hub(hass, call)
    image = await _async_image_for_ask(hass, call)
    session_id = _new_id("ha")
    request_id = _new_id("req")
    payload: dict[str, Any] = {
        "session_id": session_id,
        "request_id": request_id,
        "context": call.data[ATTR_TEXT],
    }
    if device_id:
        payload["device_id"] = device_id
    media = "text"
    if image is not None:
        content, image_format, filename = image
        media = "image"
        payload |= {
            "format": image_format,
            "filename": filename,
            "data": base64.b64encode(content).decode("ascii"),
        }
    payload["media_type"] = media
    timeout = call.data[ATTR_TIMEOUT]
    try:
        reply = await hub.requests.async_upload(session_id, media, payload, timeout)
    except TimeoutError as err:
        raise _error(HomeAssistantError, "ask_timeout", seconds=timeout) from err
    if not reply.ok:
        raise _error(HomeAssistantError, "ask_failed", message=reply.error_message)
    response: dict[str, Any] = {
        "answer": reply.answer or "",
        "session_id": session_id,
        "request_id": reply.request_id or request_id,
    }
    for key in ("transcript", "visual_context", "media_id"):
        if key in reply.data:
            response[key] = reply.data[key]
    return response


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the NAILA services."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_REQUEST_SNAPSHOT,
        _async_request_snapshot,
        schema=REQUEST_SNAPSHOT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_ANNOUNCE,
        _async_announce,
        schema=ANNOUNCE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_ASK,
        _async_ask,
        schema=ASK_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
