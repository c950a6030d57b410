"""Event entity per zone: fires with the alert type and the alert's data."""

from __future__ import annotations

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import KNOWN_ALERT_TYPES
from .entity import NailaEntity
from .hub import NailaConfigEntry, NailaHub
from .models import SIGNAL_NEW_ZONE, zone_event_key
from .payloads import Alert

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NailaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create an event entity for each known zone and for each new one."""
    hub = entry.runtime_data.hub
    async_add_entities(NailaZoneEvent(hub, zone) for zone in sorted(hub.alerts.zones))

    @callback
    def _add_zone(zone: str) -> None:
        async_add_entities([NailaZoneEvent(hub, zone)])

    entry.async_on_unload(async_dispatcher_connect(hass, hub.signal(SIGNAL_NEW_ZONE), _add_zone))


class NailaZoneEvent(NailaEntity, EventEntity):
    """Every alert of one zone; the event type is the alert type."""

    _attr_translation_key = "zone_alert"
    _follows_connection = False

    def __init__(self, hub: NailaHub, zone: str) -> None:
        super().__init__(hub, zone_event_key(zone), f"zones/{zone}/event", f"zones/{zone}")
        self._zone = zone
        self._attr_event_types = sorted(set(KNOWN_ALERT_TYPES) | hub.alerts.alert_types_seen)

    def _update_from_hub(self) -> None:
        if alert := self.hub.alerts.last_zone_alert.get(self._zone):
            self._write_blank_first()
            self._handle_value(alert)

    def _handle_value(self, value: Alert) -> None:
        if value.alert_type not in self._attr_event_types:
            self._attr_event_types = sorted({*self._attr_event_types, value.alert_type})
        data = value.as_event_data()
        del data["alert_type"]
        self._trigger_event(value.alert_type, data)
