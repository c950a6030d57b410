"""NAILA devices: their statuses, events, snapshots and upload replies, turned into the hub's
state, device registry entries and dispatcher signals."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from homeassistant.components.mqtt import ReceiveMessage
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .const import EVENT_DEVICE_EVENT, MANUFACTURER, MAX_JSON_BYTES, MAX_MEDIA_BYTES
from .models import (
    GATEWAY,
    SIGNAL_NEW_CAMERA,
    SIGNAL_NEW_DEVICE,
    SIGNAL_NEW_SATELLITE,
    SIGNAL_NEW_VOICE_DEVICE,
    device_events_key,
    device_key,
    snapshot_key,
)
from .payloads import (
    DeviceStatus,
    Snapshot,
    UploadReply,
    check_device_id,
    decode_json,
    match_filter,
    parse_device_event,
    parse_device_status,
    parse_snapshot,
    parse_upload_reply,
    raw_payload,
)
from .wire import PayloadError

if TYPE_CHECKING:
    from .hub import NailaHub

_LOGGER = logging.getLogger(__name__)


def readable_name(device_id: str) -> str:
    """Name of a device that gave none: its id in words, e.g. `kitchen_hub` -> Kitchen Hub."""
    return device_id.replace("_", " ").replace("-", " ").title()


def log_transition(what: str, was_online: bool, online: bool, first: bool) -> None:
    """Log once per online -> offline change and once per recovery (not the first status)."""
    if first or was_online == online:
        return
    if online:
        _LOGGER.info("%s is back online", what)
    else:
        _LOGGER.info("%s went offline", what)


class NailaDevices:
    """Handles the `devices/{id}/...` topics and upload replies for one hub."""

    def __init__(self, hub: NailaHub) -> None:
        self.hub = hub

    def _device_id(self, topic: str) -> str:
        parsed = self.hub.topics.parse_device_topic(topic)
        if parsed is None:
            raise PayloadError("not a device topic")
        return check_device_id(parsed[0])

    def _send(self, key: str, *args: object) -> None:
        async_dispatcher_send(self.hub.hass, self.hub.signal(key), *args)

    # ---- statuses ----------------------------------------------------------------

    def on_status(self, msg: ReceiveMessage) -> None:
        """A device's retained status: register it, create its entities, log transitions."""
        hub = self.hub
        device_id = self._device_id(msg.topic)
        if not msg.payload:
            self._remove(device_id)
            return
        status = parse_device_status(device_id, raw_payload(msg))
        previous = hub.devices.get(device_id)
        log_transition(
            f"NAILA device {device_id}",
            previous is not None and previous.online,
            status.online,
            previous is None,
        )
        if previous and not status.online:
            # A last will carries only the id and `online`: keep what the device told us before.
            status = replace(
                status,
                capabilities=status.capabilities or previous.capabilities,
                firmware_version=status.firmware_version or previous.firmware_version,
                name=status.name or previous.name,
                zone=status.zone or previous.zone,
            )
        hub.devices[device_id] = status
        if previous is None or (
            previous.name,
            previous.firmware_version,
            previous.capabilities,
        ) != (
            status.name,
            status.firmware_version,
            status.capabilities,
        ):
            self._register(status)
        if device_id not in hub.device_ids:
            hub.device_ids.add(device_id)
            self._send(SIGNAL_NEW_DEVICE, device_id)
        if status.has_camera:
            self.ensure_camera(device_id)
            hub.alerts.expect_camera(device_id, status.zone)
        if status.has_audio and device_id not in hub.voice_devices:
            hub.voice_devices.add(device_id)
            self._send(SIGNAL_NEW_VOICE_DEVICE, device_id)
        if status.has_speaker and device_id not in hub.satellites:
            hub.satellites.add(device_id)
            self._send(SIGNAL_NEW_SATELLITE, device_id)
        self._send(device_key(device_id), status)

    def _register(self, status: DeviceStatus) -> None:
        if status.has_camera:
            model = "Camera"
        elif status.has_audio or status.has_speaker:
            model = "Voice device"
        else:
            model = "Device"
        hub = self.hub
        dr.async_get(hub.hass).async_get_or_create(
            config_entry_id=hub.entry.entry_id,
            identifiers={hub.identifier(f"devices/{status.device_id}")},
            manufacturer=MANUFACTURER,
            model=model,
            name=status.name or readable_name(status.device_id),
            sw_version=status.firmware_version,
            suggested_area=status.zone.replace("_", " ").title() if status.zone else None,
            via_device=hub.identifier(GATEWAY),
        )

    def ensure_camera(self, device_id: str) -> None:
        if device_id not in self.hub.cameras:
            self.hub.cameras.add(device_id)
            self._send(SIGNAL_NEW_CAMERA, device_id)

    def _remove(self, device_id: str) -> None:
        """An empty retained status: the device is gone for good; remove it and its entities."""
        hub = self.hub
        registry = dr.async_get(hub.hass)
        device = registry.async_get_device(identifiers={hub.identifier(f"devices/{device_id}")})
        self.forget(device_id)
        if device is not None:
            _LOGGER.info("Device %s was removed (its retained status was cleared)", device_id)
            registry.async_update_device(device.id, remove_config_entry_id=hub.entry.entry_id)

    @callback
    def forget(self, device_id: str) -> None:
        """Drop everything known about one device (it is being removed from the registry)."""
        hub = self.hub
        hub.device_ids.discard(device_id)
        hub.voice_devices.discard(device_id)
        hub.satellites.discard(device_id)
        hub.settings.forget(device_id)
        hub.devices.pop(device_id, None)
        hub.cameras.discard(device_id)
        hub.snapshots.pop(device_id, None)
        hub.alerts.forget("devices", device_id)

    # ---- events, snapshots, upload replies ------------------------------------------

    def on_event(self, msg: ReceiveMessage) -> None:
        """A device event: to the request waiting for it, its entities and HA's event bus."""
        hub = self.hub
        device_id = self._device_id(msg.topic)
        event = parse_device_event(device_id, decode_json(msg.payload, MAX_JSON_BYTES))
        hub.requests.resolve_event(event)
        self._send(device_events_key(device_id), event)
        data = {k: v for k, v in event.data.items() if k not in ("device_id", "event")}
        hub.hass.bus.async_fire(
            EVENT_DEVICE_EVENT,
            {"device_id": device_id, "event": event.event, "prefix": hub.prefix, "data": data},
        )

    # Snapshots and upload replies carry up to MAX_MEDIA_BYTES of JSON and base64: the hub
    # decodes them in the executor (`decode_*`, no HA state touched) and applies the result on
    # the event loop (`on_*`).

    def decode_snapshot(self, msg: ReceiveMessage) -> Snapshot:
        """Parse a snapshot message (runs in the executor)."""
        device_id = self._device_id(msg.topic)
        return parse_snapshot(device_id, decode_json(msg.payload, MAX_MEDIA_BYTES))

    @callback
    def on_snapshot(self, snapshot: Snapshot) -> None:
        hub = self.hub
        device_id = snapshot.device_id
        hub.requests.resolve_snapshot(snapshot)
        if device_id not in hub.device_ids:
            _LOGGER.debug("Snapshot from unknown device %s not shown", device_id)
            return
        hub.snapshots[device_id] = snapshot
        self.ensure_camera(device_id)
        self._send(snapshot_key(device_id), snapshot)

    @callback
    def wants_upload_reply(self, msg: ReceiveMessage) -> bool:
        """Whether an upload reply is for one of this hub's uploads (checked before decoding)."""
        levels = match_filter(self.hub.topics.upload_reply("+"), msg.topic)
        if levels is None:
            raise PayloadError("not an upload reply topic")
        return self.hub.requests.waits_for_reply(levels[0])  # else another client's upload

    def decode_upload_reply(self, msg: ReceiveMessage) -> UploadReply:
        """Parse an upload reply (runs in the executor)."""
        levels = match_filter(self.hub.topics.upload_reply("+"), msg.topic)
        if levels is None:
            raise PayloadError("not an upload reply topic")
        return parse_upload_reply(levels[0], decode_json(msg.payload, MAX_MEDIA_BYTES))

    @callback
    def on_upload_reply(self, reply: UploadReply) -> None:
        self.hub.requests.resolve_reply(reply)
