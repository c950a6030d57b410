"""Diagnostics download for a NAILA config entry."""

from __future__ import annotations

from typing import Any

from homeassistant.components import mqtt
from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .hub import NailaConfigEntry

TO_REDACT = {
    "password",
    "username",
    "token",
    "access_token",
    "api_key",
    "secret",
    "client_key",
    "client_cert",
    "certificate",
}
_MQTT_KEYS = ("broker", "port", "username", "password", "protocol", "transport")


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: NailaConfigEntry
) -> dict[str, Any]:
    """Entry configuration and the state the hub parsed from MQTT (credentials redacted)."""
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "mqtt": [
                {key: mqtt_entry.data.get(key) for key in _MQTT_KEYS}
                for mqtt_entry in hass.config_entries.async_entries(mqtt.DOMAIN)
            ],
            "hub": entry.runtime_data.hub.as_diagnostics(),
        },
        TO_REDACT,
    )
