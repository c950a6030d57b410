"""Alerts of one NAILA prefix: zones, alert sensors (created ahead) and the naila_alert event."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from homeassistant.components import mqtt
from homeassistant.components.mqtt import ReceiveMessage
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ALERT_TYPES,
    EVENT_ALERT,
    KNOWN_ALERT_TYPES,
    MANUFACTURER,
    MAX_JSON_BYTES,
    QOS_RELIABLE,
    is_valid_name,
)
from .devices import readable_name
from .models import (
    GATEWAY,
    SIGNAL_NEW_ALERT_SENSOR,
    SIGNAL_NEW_ZONE,
    AlertSensorSpec,
    zone_event_key,
)
from .payloads import Alert, decode_json, match_filter, parse_alert
from .wire import PayloadError

if TYPE_CHECKING:
    from .hub import NailaHub

_LOGGER = logging.getLogger(__name__)


class NailaAlerts:
    """Zones and alert binary_sensors of one hub; each alert fires `naila_alert`.

    What can be known before any alert is created ahead, `off`: the zone of every camera (its
    device, event entity and sensors) and the camera's own sensors, one per alert type that
    creates sensors (the configured ones, else the known ones). So the first alert turns a
    sensor from off to on (a "detected" logbook entry) and the automation editor lists them.
    """

    def __init__(self, hub: NailaHub) -> None:
        self.hub = hub
        self.sensor_alert_types: frozenset[str] = frozenset(
            hub.entry.options.get(CONF_ALERT_TYPES, [])
        )
        self.zones: set[str] = set()
        self.alert_sensors: set[AlertSensorSpec] = set()
        self.alert_types_seen: set[str] = set()
        self.last_alerts: dict[str, tuple[Alert, datetime]] = {}
        self.last_zone_alert: dict[str, Alert] = {}
        self._retained_warned: set[str] = set()

    def alert_sensor_enabled(self, alert_type: str) -> bool:
        """True when the options let this alert type create binary_sensors."""
        return not self.sensor_alert_types or alert_type in self.sensor_alert_types

    @property
    def ahead_types(self) -> list[str]:
        """Alert types whose sensors exist before their first alert."""
        return sorted(self.sensor_alert_types or KNOWN_ALERT_TYPES)

    def restore(self, scope: str, name: str, alert_type: str | None) -> bool:
        """Remember a zone or alert sensor from the entity registry; False if it is obsolete."""
        if alert_type is None:
            self.zones.add(name)
            return True
        self.alert_types_seen.add(alert_type)
        if not self.alert_sensor_enabled(alert_type):
            return False
        self.alert_sensors.add(AlertSensorSpec(scope, name, alert_type))
        return True

    # ---- created ahead -------------------------------------------------------------

    @callback
    def expect_camera(self, device_id: str, zone: str | None) -> None:
        """A camera is known: its sensors, and its zone's device, event and sensors."""
        for alert_type in self.ahead_types:
            self._ensure_sensor(AlertSensorSpec("devices", device_id, alert_type))
        if zone is None or not is_valid_name(zone):
            return
        self.ensure_zone(zone)
        for alert_type in self.ahead_types:
            self._ensure_sensor(AlertSensorSpec("zones", zone, alert_type))

    def ensure_zone(self, zone: str) -> str:
        """Device registry id of a zone's device; its event entity is added the first time."""
        device = dr.async_get(self.hub.hass).async_get_or_create(
            config_entry_id=self.hub.entry.entry_id,
            identifiers={self.hub.identifier(f"zones/{zone}")},
            manufacturer=MANUFACTURER,
            model="Zone",
            name=self.hub.title(f"NAILA zone {zone.replace('_', ' ')}"),
            entry_type=DeviceEntryType.SERVICE,
            suggested_area=zone.replace("_", " ").title(),
        )
        if zone not in self.zones:
            self.zones.add(zone)
            async_dispatcher_send(self.hub.hass, self.hub.signal(SIGNAL_NEW_ZONE), zone)
        return device.id

    def _ensure_sensor(self, spec: AlertSensorSpec) -> bool:
        """Add the binary_sensor of `spec` unless it exists; True if it existed."""
        if spec in self.alert_sensors:
            return True
        self.alert_sensors.add(spec)
        async_dispatcher_send(self.hub.hass, self.hub.signal(SIGNAL_NEW_ALERT_SENSOR), spec)
        return False

    # ---- alerts --------------------------------------------------------------------

    async def async_start(self) -> None:
        """Subscribe to every zone's alerts; the unsubscribe runs when the entry unloads."""
        hub = self.hub
        hub.entry.async_on_unload(
            await mqtt.async_subscribe(
                hub.hass,
                hub.topics.alerts_wildcard,
                hub.guarded(self._on_alert, MAX_JSON_BYTES),
                QOS_RELIABLE,
                encoding=None,
            )
        )

    def _on_alert(self, msg: ReceiveMessage) -> None:
        hub = self.hub
        levels = match_filter(hub.topics.alerts_wildcard, msg.topic)
        if levels is None:
            raise PayloadError("not an alert topic")
        if msg.retain:
            # An alert is a moment: a retained copy replays at every (re)subscription.
            if msg.topic not in self._retained_warned:
                self._retained_warned.add(msg.topic)
                _LOGGER.warning(
                    "Ignored retained alert on %s (alerts must not be retained)", msg.topic[:200]
                )
            return
        zone, alert_type = levels
        alert = parse_alert(zone, alert_type, decode_json(msg.payload, MAX_JSON_BYTES))
        self.alert_types_seen.add(alert_type)
        zone_device_id = self.ensure_zone(zone)
        source_device_id = self._ensure_source(alert.source_device)
        now = dt_util.utcnow()
        if self.alert_sensor_enabled(alert_type):
            specs = [AlertSensorSpec("zones", zone, alert_type)]
            if alert.source_device:
                specs.append(AlertSensorSpec("devices", alert.source_device, alert_type))
            for spec in specs:
                self.last_alerts[spec.key] = (alert, now)
                if self._ensure_sensor(spec):
                    async_dispatcher_send(hub.hass, hub.signal(spec.key), alert)
        self.last_zone_alert[zone] = alert
        async_dispatcher_send(hub.hass, hub.signal(zone_event_key(zone)), alert)
        hub.hass.bus.async_fire(
            EVENT_ALERT,
            {
                **alert.as_event_data(),
                "prefix": hub.prefix,
                "zone_device_id": zone_device_id,
                "source_device_id": source_device_id,
            },
        )

    def _ensure_source(self, device_id: str | None) -> str | None:
        """Device registry id of an alert's source device; registered if it never sent status."""
        if device_id is None:
            return None
        hub = self.hub
        registry = dr.async_get(hub.hass)
        identifier = hub.identifier(f"devices/{device_id}")
        if device := registry.async_get_device(identifiers={identifier}):
            return device.id
        return registry.async_get_or_create(
            config_entry_id=hub.entry.entry_id,
            identifiers={identifier},
            manufacturer=MANUFACTURER,
            model="Camera",
            name=readable_name(device_id),
            via_device=hub.identifier(GATEWAY),
        ).id

    # ---- removal -------------------------------------------------------------------

    @callback
    def forget(self, scope: str, name: str) -> None:
        """Drop a zone's or a device's alert state (it is being removed from the registry)."""
        if scope == "zones":
            self.zones.discard(name)
            self.last_zone_alert.pop(name, None)
        for spec in [s for s in self.alert_sensors if s.scope == scope and s.name == name]:
            self.alert_sensors.discard(spec)
            self.last_alerts.pop(spec.key, None)
