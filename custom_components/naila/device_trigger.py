"""Device triggers: an alert of a given type in a zone or from a camera device."""

from __future__ import annotations

import voluptuous as vol
from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.const import CONF_DEVICE_ID, CONF_DOMAIN, CONF_PLATFORM, CONF_TYPE
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN, EVENT_ALERT, KNOWN_ALERT_TYPES, is_valid_name

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {vol.Required(CONF_TYPE): vol.All(str, vol.Match(r"^[A-Za-z0-9_\-]{1,64}$"))}
)


def _alert_key(hass: HomeAssistant, device_id: str) -> str | None:
    """Which `naila_alert` field names this device: zones and cameras have one, others none."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return None
    for domain, identifier in device.identifiers:
        if domain != DOMAIN:
            continue
        kind = identifier.split("/")[-2] if "/" in identifier else ""
        if kind == "zones":
            return "zone_device_id"
        if kind == "devices" and device.model == "Camera":
            return "source_device_id"
    return None


def _alert_types(hass: HomeAssistant, device_id: str) -> list[str]:
    device = dr.async_get(hass).async_get(device_id)
    seen: set[str] = set()
    if device is not None:
        for entry_id in device.config_entries:
            entry = hass.config_entries.async_get_entry(entry_id)
            if entry is not None and entry.domain == DOMAIN and hasattr(entry, "runtime_data"):
                seen |= entry.runtime_data.hub.alerts.alert_types_seen
    return sorted(t for t in set(KNOWN_ALERT_TYPES) | seen if is_valid_name(t))


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, str]]:
    """One trigger per alert type for zone and camera devices."""
    if _alert_key(hass, device_id) is None:
        return []
    return [
        {CONF_PLATFORM: "device", CONF_DOMAIN: DOMAIN, CONF_DEVICE_ID: device_id, CONF_TYPE: t}
        for t in _alert_types(hass, device_id)
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen for `naila_alert` events of this type naming this device."""
    device_id = config[CONF_DEVICE_ID]
    key = _alert_key(hass, device_id)
    if key is None:
        raise InvalidDeviceAutomationConfig(
            translation_domain=DOMAIN,
            translation_key="no_alerts",
            translation_placeholders={"device": device_id},
        )
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: "event",
            event_trigger.CONF_EVENT_TYPE: EVENT_ALERT,
            "event_data": {"alert_type": config[CONF_TYPE], key: device_id},
        }
    )
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )
