"""The NAILA integration: voice-and-vision assistant devices, alerts and services over MQTT."""

from __future__ import annotations

from homeassistant.components import mqtt
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .const import CONF_PREFIX, DOMAIN
from .hub import NailaConfigEntry, NailaData, NailaHub
from .models import GATEWAY, SERVER
from .services import async_setup_services

PLATFORMS: list[Platform] = [
    Platform.ASSIST_SATELLITE,
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.SELECT,
    Platform.SENSOR,
]

ISSUE_MQTT_MISSING = "mqtt_missing"
"""Repair issue raised while HA's MQTT integration is missing or not connected."""

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the NAILA services (once, for every config entry)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: NailaConfigEntry) -> bool:
    """Set up one NAILA prefix: devices, platforms, then the MQTT subscriptions."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        ir.async_create_issue(
            hass,
            DOMAIN,
            ISSUE_MQTT_MISSING,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_MQTT_MISSING,
        )
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_unavailable")
    ir.async_delete_issue(hass, DOMAIN, ISSUE_MQTT_MISSING)
    _async_remove_foreign_prefix(hass, entry)
    integration = await async_get_integration(hass, DOMAIN)
    hub = NailaHub(hass, entry, str(integration.version) if integration.version else None)
    entry.runtime_data = NailaData(hub=hub)
    hub.async_setup_registry()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await hub.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: NailaConfigEntry) -> bool:
    """Unload platforms; subscriptions and listeners go through `entry.async_on_unload`."""
    unload_ok = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unload_ok:
        await entry.runtime_data.hub.async_stop()
    return unload_ok


async def _async_update_listener(hass: HomeAssistant, entry: NailaConfigEntry) -> None:
    """Options changed: reload so the delay and alert types apply everywhere.

    Other updates (e.g. MQTT discovery refreshing the entry's discovery keys) need no reload.
    """
    if dict(entry.options) != entry.runtime_data.hub.options:
        await hass.config_entries.async_reload(entry.entry_id)


def _async_remove_foreign_prefix(hass: HomeAssistant, entry: NailaConfigEntry) -> None:
    """After a reconfigure changed the prefix, drop devices and entities of the old one."""
    head = f"{entry.data[CONF_PREFIX]}/"
    entities = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        if not entity.unique_id.startswith(head):
            entities.async_remove(entity.entity_id)
    devices = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        if not any(
            domain == DOMAIN and ident.startswith(head) for domain, ident in device.identifiers
        ):
            devices.async_update_device(device.id, remove_config_entry_id=entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: NailaConfigEntry, device_entry: dr.DeviceEntry
) -> bool:
    """Allow removing a device that is not online; gateway and server stay with the entry."""
    hub = entry.runtime_data.hub
    head = f"{hub.prefix}/"
    for domain, identifier in device_entry.identifiers:
        if domain != DOMAIN or not identifier.startswith(head):
            continue
        match identifier[len(head) :].split("/"):
            case [source] if source in (GATEWAY, SERVER):
                return False
            case ["devices", device_id]:
                status = hub.devices.get(device_id)
                if status is not None and status.online:
                    return False
                hub.forget_device(device_id)
            case ["zones", zone]:
                hub.alerts.forget("zones", zone)
    return True
