"""Checks that refuse a request at once, with a translated error, when it cannot work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.exceptions import ServiceValidationError

from .const import DOMAIN
from .models import GATEWAY

if TYPE_CHECKING:
    from .hub import NailaHub


def check_can_speak(hub: NailaHub, device_id: str) -> None:
    """Raise unless the device has a speaker, is online and its gateway is online."""
    status = hub.devices.get(device_id)
    has_speaker = (
        status.has_speaker
        if status is not None
        else device_id in hub.satellites  # known from before a restart, status not back yet
    )
    if not has_speaker:
        raise _refused("no_speaker", device_id)
    if status is not None and not status.online:
        raise _refused("device_offline", device_id)
    gateway = hub.status[GATEWAY]
    if not hub.connected or (gateway is not None and not gateway.online):
        raise _refused("gateway_offline", device_id)


def _refused(key: str, device_id: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"device": device_id},
    )
