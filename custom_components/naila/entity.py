"""Base class of NAILA entities: follows one data key of the hub and the MQTT connection."""

from __future__ import annotations

from typing import Any

from homeassistant.core import callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity

from .hub import NailaHub
from .models import SIGNAL_CONNECTION, device_key


class NailaEntity(Entity):
    """An entity fed by the hub: `_key` names the topic data it follows.

    Subclasses set their state from the hub's cache in `_update_from_hub` (called when added)
    and from each new value in `_handle_value`; both run inside `@callback`s that end in
    `async_write_ha_state()`.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _availability_key: str | None = None
    """Extra data key (e.g. the publisher's status) that only changes availability."""
    _follows_connection = True
    """False for what happened (alerts): a lost MQTT connection brings no new alert, so the
    state stays and a reconnect changes nothing (no logbook entry that looks like an alert)."""

    def __init__(self, hub: NailaHub, key: str, unique_suffix: str, device_suffix: str) -> None:
        self.hub = hub
        self._key = key
        self._attr_unique_id = hub.unique_id(unique_suffix)
        self._attr_device_info = hub.device_info(device_suffix)

    async def async_added_to_hass(self) -> None:
        """Follow the entity's data key and the MQTT connection state."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self.hub.signal(self._key), self._async_on_value)
        )
        connection = SIGNAL_CONNECTION if self._follows_connection else None
        for key in (connection, self._availability_key):
            if key is not None:
                self.async_on_remove(
                    async_dispatcher_connect(
                        self.hass, self.hub.signal(key), self._async_on_availability
                    )
                )
        self._update_from_hub()

    @property
    def available(self) -> bool:
        return (self.hub.connected or not self._follows_connection) and self._source_available()

    def _source_available(self) -> bool:
        """Whether the publisher of this entity's data is online; override where it matters."""
        return True

    def _update_from_hub(self) -> None:
        """Take the current value from the hub's cache (entity just added)."""

    @callback
    def _write_blank_first(self) -> None:
        """Write the state the entity has before its data (off, unknown) when it is new.

        An entity created by the message it shows then records that message as a change (a
        "detected" logbook entry) instead of starting in it.
        """
        if self.hass.states.get(self.entity_id) is None:
            self.async_write_ha_state()

    def _handle_value(self, value: Any) -> None:
        """Apply one new value from the hub."""

    @callback
    def _async_on_value(self, value: Any) -> None:
        self._handle_value(value)
        self.async_write_ha_state()

    @callback
    def _async_on_availability(self, _value: Any) -> None:
        self.async_write_ha_state()


class NailaDeviceScopedEntity(NailaEntity):
    """An entity of one NAILA device: unavailable while that device is offline."""

    def __init__(self, hub: NailaHub, key: str, unique_suffix: str, device_id: str) -> None:
        super().__init__(hub, key, unique_suffix, f"devices/{device_id}")
        self._device_id = device_id
        self._availability_key = device_key(device_id)

    def _source_available(self) -> bool:
        status = self.hub.devices.get(self._device_id)
        return status is None or status.online
