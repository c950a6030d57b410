"""Binary sensors: connectivity of gateway, server and devices; alert occupancy per zone/camera."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .entity import NailaEntity
from .hub import NailaConfigEntry, NailaHub
from .models import (
    GATEWAY,
    SERVER,
    SIGNAL_NEW_ALERT_SENSOR,
    SIGNAL_NEW_DEVICE,
    AlertSensorSpec,
    device_key,
    status_key,
)
from .payloads import Alert, DeviceStatus, ServiceStatus

PARALLEL_UPDATES = 0

ALERT_DEVICE_CLASSES = {
    "person_detected": BinarySensorDeviceClass.OCCUPANCY,
    "fall_detected": BinarySensorDeviceClass.SAFETY,
    "motion_detected": BinarySensorDeviceClass.MOTION,
    "smoke_detected": BinarySensorDeviceClass.SMOKE,
    "sound_detected": BinarySensorDeviceClass.SOUND,
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NailaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the known binary sensors and add new ones as devices and alerts appear."""
    hub = entry.runtime_data.hub
    entities: list[BinarySensorEntity] = [
        NailaServiceConnectivity(hub, GATEWAY),
        NailaServiceConnectivity(hub, SERVER),
    ]
    entities += [NailaDeviceConnectivity(hub, device_id) for device_id in sorted(hub.device_ids)]
    entities += [
        NailaAlertBinarySensor(hub, spec)
        for spec in sorted(hub.alerts.alert_sensors, key=lambda s: s.key)
    ]
    async_add_entities(entities)

    @callback
    def _add_device(device_id: str) -> None:
        async_add_entities([NailaDeviceConnectivity(hub, device_id)])

    @callback
    def _add_alert_sensor(spec: AlertSensorSpec) -> None:
        async_add_entities([NailaAlertBinarySensor(hub, spec)])

    entry.async_on_unload(
        async_dispatcher_connect(hass, hub.signal(SIGNAL_NEW_DEVICE), _add_device)
    )
    entry.async_on_unload(
        async_dispatcher_connect(hass, hub.signal(SIGNAL_NEW_ALERT_SENSOR), _add_alert_sensor)
    )


class NailaServiceConnectivity(NailaEntity, BinarySensorEntity):
    """Online state of the gateway or the AI server (retained status and last will)."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, hub: NailaHub, source: str) -> None:
        super().__init__(hub, status_key(source), f"{source}/connectivity", source)
        self._source = source

    def _update_from_hub(self) -> None:
        self._handle_value(self.hub.status[self._source])

    def _handle_value(self, value: ServiceStatus | None) -> None:
        self._attr_is_on = None if value is None else value.online
        self._attr_extra_state_attributes = (
            {}
            if value is None
            else {
                "id": value.service_id,
                "version": value.version,
                "services": list(value.services),
            }
        )


class NailaDeviceConnectivity(NailaEntity, BinarySensorEntity):
    """Online state of one NAILA device (its retained status and last will)."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY

    def __init__(self, hub: NailaHub, device_id: str) -> None:
        super().__init__(
            hub, device_key(device_id), f"devices/{device_id}/connectivity", f"devices/{device_id}"
        )
        self._device_id = device_id

    def _update_from_hub(self) -> None:
        self._handle_value(self.hub.devices.get(self._device_id))

    def _handle_value(self, value: DeviceStatus | None) -> None:
        self._attr_is_on = None if value is None else value.online
        self._attr_extra_state_attributes = (
            {}
            if value is None
            else {
                "device_id": value.device_id,
                "capabilities": list(value.capabilities),
                "firmware_version": value.firmware_version,
                "zone": value.zone,
            }
        )


class NailaAlertBinarySensor(NailaEntity, BinarySensorEntity):
    """On at an alert of one type in one zone (or from one camera); off after the delay."""

    _attr_translation_key = "alert"
    _attr_is_on = False
    _follows_connection = False

    def __init__(self, hub: NailaHub, spec: AlertSensorSpec) -> None:
        super().__init__(hub, spec.key, spec.key, f"{spec.scope}/{spec.name}")
        if spec.scope == "devices":  # a camera's own sensor: unavailable while it is offline
            self._availability_key = device_key(spec.name)
        self._scope = spec
        self._attr_device_class = ALERT_DEVICE_CLASSES.get(spec.alert_type)
        self._attr_translation_placeholders = {
            "alert_type": spec.alert_type.replace("_", " ").capitalize()
        }
        self._cancel_off: CALLBACK_TYPE | None = None

    def _source_available(self) -> bool:
        if self._scope.scope != "devices":
            return True
        status = self.hub.devices.get(self._scope.name)
        return status is None or status.online

    def _update_from_hub(self) -> None:
        if last := self.hub.alerts.last_alerts.get(self._key):
            alert, received = last
            remaining = self.hub.off_delay - (dt_util.utcnow() - received).total_seconds()
            if remaining > 0:
                self._write_blank_first()
                self._turn_on(alert, remaining)

    def _handle_value(self, value: Alert) -> None:
        self._turn_on(value, self.hub.off_delay)

    def _turn_on(self, alert: Alert, delay: float) -> None:
        self._attr_is_on = True
        attributes: dict[str, Any] = {
            "zone": alert.zone,
            "confidence": alert.confidence,
            "source_device": alert.source_device,
            "last_alert": (alert.timestamp or dt_util.utcnow()).isoformat(),
        }
        attributes.update(alert.extra)
        self._attr_extra_state_attributes = attributes
        self._cancel_timer()
        self._cancel_off = async_call_later(self.hass, delay, self._async_turn_off)

    @callback
    def _async_turn_off(self, _now: datetime) -> None:
        self._cancel_off = None
        self._attr_is_on = False
        self.async_write_ha_state()

    def _cancel_timer(self) -> None:
        if self._cancel_off is not None:
            self._cancel_off()
            self._cancel_off = None

    async def async_will_remove_from_hass(self) -> None:
        """Cancel the pending off timer."""
        self._cancel_timer()
        await super().async_will_remove_from_hass()
