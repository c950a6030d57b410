"""Diagnostics download for a NAILA config entry."""

from __future__ import annotations

from typing import Any

from homeassistant.components import mqtt
from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .hub import NailaConfigEntry, NailaHub
from .models import GATEWAY, SERVER
from .payloads import ServiceStatus

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
            "hub": _hub_summary(entry.runtime_data.hub),
        },
        TO_REDACT,
    )


def _hub_summary(hub: NailaHub) -> dict[str, Any]:
    """What the hub parsed from MQTT; pictures only by size."""
    return {
        "prefix": hub.prefix,
        "mqtt_connected": hub.connected,
        "gateway": _status_dict(hub.status[GATEWAY]),
        "server": _status_dict(hub.status[SERVER]),
        "metrics": hub.metrics,
        "devices": {
            device_id: {
                "online": s.online,
                "name": s.name,
                "capabilities": list(s.capabilities),
                "firmware_version": s.firmware_version,
                "zone": s.zone,
                "timestamp": s.timestamp.isoformat() if s.timestamp else None,
            }
            for device_id, s in hub.devices.items()
        },
        "cameras": sorted(hub.cameras),
        "snapshots": {
            device_id: {
                "format": s.image_format,
                "width": s.width,
                "height": s.height,
                "bytes": len(s.image),
                "timestamp": s.timestamp.isoformat() if s.timestamp else None,
            }
            for device_id, s in hub.snapshots.items()
        },
        "zones": sorted(hub.alerts.zones),
        "alert_types_seen": sorted(hub.alerts.alert_types_seen),
        "alert_sensors": sorted(spec.key for spec in hub.alerts.alert_sensors),
        "rejected_messages": dict(hub.rejected),
        "pending_requests": len(hub.requests),
    }


def _status_dict(status: ServiceStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    return {
        "online": status.online,
        "id": status.service_id,
        "version": status.version,
        "services": list(status.services),
        "timestamp": status.timestamp.isoformat() if status.timestamp else None,
    }
