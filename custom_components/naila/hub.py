"""The NAILA hub: MQTT subscriptions, parsed state, device registry and pending requests."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from homeassistant.components import mqtt
from homeassistant.components.mqtt import ReceiveMessage
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .alerts import NailaAlerts
from .const import (
    CONF_OFF_DELAY,
    CONF_PREFIX,
    DEFAULT_OFF_DELAY,
    DEFAULT_PREFIX,
    DOMAIN,
    EVENT_DEVICE_EVENT,
    MANUFACTURER,
    MAX_JSON_BYTES,
    MAX_MEDIA_BYTES,
    QOS_RELIABLE,
    QOS_TELEMETRY,
    Topics,
)
from .models import (
    GATEWAY,
    GATEWAY_METRIC_KEYS,
    SERVER,
    SERVER_METRIC_KEYS,
    SIGNAL_CONNECTION,
    SIGNAL_NEW_CAMERA,
    SIGNAL_NEW_DEVICE,
    SIGNAL_NEW_SATELLITE,
    SIGNAL_NEW_VOICE_DEVICE,
    device_events_key,
    device_key,
    metrics_key,
    snapshot_key,
    status_key,
)
from .payloads import (
    DeviceStatus,
    ServiceStatus,
    Snapshot,
    check_device_id,
    decode_json,
    match_filter,
    parse_device_event,
    parse_device_status,
    parse_metrics,
    parse_service_status,
    parse_snapshot,
    parse_upload_reply,
    raw_payload,
)
from .relay import ConversationRelay
from .requests import NailaRequests
from .settings import DeviceSettingsStore
from .wire import PayloadError

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class NailaData:
    """Runtime data of one config entry."""

    hub: NailaHub


type NailaConfigEntry = ConfigEntry[NailaData]


class NailaHub:
    """Owns the MQTT subscriptions of one prefix and the state parsed from them."""

    def __init__(
        self, hass: HomeAssistant, entry: NailaConfigEntry, version: str | None = None
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.topics = Topics(entry.data[CONF_PREFIX])
        self.options: dict[str, Any] = dict(entry.options)
        self.off_delay: float = float(entry.options.get(CONF_OFF_DELAY, DEFAULT_OFF_DELAY))
        self.connected = True
        self.status: dict[str, ServiceStatus | None] = {GATEWAY: None, SERVER: None}
        self.metrics: dict[str, dict[str, float | bool | None]] = {GATEWAY: {}, SERVER: {}}
        self.device_ids: set[str] = set()
        self.devices: dict[str, DeviceStatus] = {}
        self.cameras: set[str] = set()
        self.snapshots: dict[str, Snapshot] = {}
        self.rejected: Counter[str] = Counter()
        self.requests = NailaRequests(hass, self.topics)
        self.voice_devices: set[str] = set()
        self.satellites: set[str] = set()
        self.settings = DeviceSettingsStore(self)
        self.relay = ConversationRelay(self, version)
        self.alerts = NailaAlerts(self)

    # ---- identifiers -------------------------------------------------------------

    @property
    def prefix(self) -> str:
        return self.topics.prefix

    def signal(self, key: str) -> str:
        """Dispatcher signal name for one data key of this entry."""
        return f"{DOMAIN}_{self.entry.entry_id}_{key}"

    def unique_id(self, suffix: str) -> str:
        """Entity unique id: `{prefix}/{suffix}`."""
        return f"{self.prefix}/{suffix}"

    def identifier(self, suffix: str) -> tuple[str, str]:
        """Device registry identifier: (naila, `{prefix}/{suffix}`) for 'gateway',
        'server', 'devices/{id}' or 'zones/{zone}'."""
        return (DOMAIN, f"{self.prefix}/{suffix}")

    def device_info(self, suffix: str) -> DeviceInfo:
        """DeviceInfo linking an entity to a device the hub registered."""
        return DeviceInfo(identifiers={self.identifier(suffix)})

    def title(self, what: str) -> str:
        """A device name, with the prefix when it is not the default one."""
        return what if self.prefix == DEFAULT_PREFIX else f"{what} ({self.prefix})"

    @staticmethod
    def readable_name(device_id: str) -> str:
        """Name of a device that gave none: its id in words, e.g. `kitchen_hub` -> Kitchen Hub."""
        return device_id.replace("_", " ").replace("-", " ").title()

    # ---- lifecycle ---------------------------------------------------------------

    @callback
    def async_setup_registry(self) -> None:
        """Register the gateway and server; restore zones, devices and sensors known before."""
        registry = dr.async_get(self.hass)
        for source, name, model in (
            (GATEWAY, "NAILA gateway", "Gateway"),
            (SERVER, "NAILA AI server", "AI server"),
        ):
            registry.async_get_or_create(
                config_entry_id=self.entry.entry_id,
                identifiers={self.identifier(source)},
                manufacturer=MANUFACTURER,
                model=model,
                name=self.title(name),
                entry_type=DeviceEntryType.SERVICE,
            )
        head = f"{self.prefix}/"
        entities = er.async_get(self.hass)
        for entity in er.async_entries_for_config_entry(entities, self.entry.entry_id):
            if entity.unique_id.startswith(head) and not self._restore_unique_id(
                entity.unique_id[len(head) :]
            ):
                entities.async_remove(entity.entity_id)

    def _restore_unique_id(self, suffix: str) -> bool:
        """Remember the zone/device/sensor an entity stands for; False if it is obsolete."""
        match suffix.split("/"):
            case ["devices", device_id, "connectivity"]:
                self.device_ids.add(device_id)
            case ["devices", device_id, "conversation"]:
                self.voice_devices.add(device_id)
            case ["devices", device_id, "satellite"]:
                self.satellites.add(device_id)
            case ["devices", device_id, "snapshot"]:
                self.cameras.add(device_id)
            case ["zones", zone, "event"]:
                return self.alerts.restore("zones", zone, None)
            case [scope, name, "alert", alert_type] if scope in ("zones", "devices"):
                return self.alerts.restore(scope, name, alert_type)
        return True

    async def async_start(self) -> None:
        """Subscribe to every NAILA topic; each unsubscribe runs when the entry unloads."""
        t = self.topics
        handlers: list[tuple[str, Callable[[ReceiveMessage], None], int, int]] = [
            (t.gateway_status, self._on_gateway_status, QOS_RELIABLE, MAX_JSON_BYTES),
            (t.server_status, self._on_server_status, QOS_RELIABLE, MAX_JSON_BYTES),
            (t.gateway_metrics, self._on_gateway_metrics, QOS_TELEMETRY, MAX_JSON_BYTES),
            (t.server_metrics, self._on_server_metrics, QOS_TELEMETRY, MAX_JSON_BYTES),
            (t.device_wildcard("status"), self._on_device_status, QOS_RELIABLE, MAX_JSON_BYTES),
            (t.device_wildcard("events"), self._on_device_event, QOS_RELIABLE, MAX_JSON_BYTES),
            (
                t.device_wildcard("media/snapshot"),
                self._on_snapshot,
                QOS_RELIABLE,
                MAX_MEDIA_BYTES,
            ),
            (
                t.device_wildcard("settings"),
                self.settings.on_settings,
                QOS_RELIABLE,
                MAX_JSON_BYTES,
            ),
            (t.upload_reply("+"), self._on_upload_reply, QOS_RELIABLE, MAX_MEDIA_BYTES),
        ]
        for topic_filter, handler, qos, max_bytes in handlers:
            unsubscribe = await mqtt.async_subscribe(
                self.hass, topic_filter, self.guarded(handler, max_bytes), qos, encoding=None
            )
            self.entry.async_on_unload(unsubscribe)
        await self.alerts.async_start()
        await self.relay.async_start()
        self.connected = mqtt.is_connected(self.hass)
        self.entry.async_on_unload(
            mqtt.async_subscribe_connection_status(self.hass, self._on_connection)
        )

    async def async_stop(self) -> None:
        """Fail every pending request and stop answering conversations (the entry unloads)."""
        self.requests.fail_all()
        await self.relay.async_stop()

    @callback
    def _on_connection(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        if connected:
            _LOGGER.info("MQTT connection is back: NAILA entities are available again")
            self.relay.async_on_reconnect()
        else:
            _LOGGER.info("MQTT connection lost: NAILA entities are unavailable")
        async_dispatcher_send(self.hass, self.signal(SIGNAL_CONNECTION), connected)

    def guarded(
        self, handler: Callable[[ReceiveMessage], None], max_bytes: int
    ) -> Callable[[ReceiveMessage], None]:
        """Wrap a handler so bad input is logged and counted, never raised into MQTT."""

        @callback
        def _on_message(msg: ReceiveMessage) -> None:
            topic = msg.topic[:200]
            try:
                if len(msg.payload) > max_bytes:
                    raise PayloadError(
                        f"payload of {len(msg.payload)} bytes exceeds the limit of {max_bytes}"
                    )
                handler(msg)
            except PayloadError as err:
                self.rejected[handler.__name__.removeprefix("_on_")] += 1
                _LOGGER.warning("Ignored message on %s: %s", topic, err)
            except Exception:
                self.rejected["internal_error"] += 1
                _LOGGER.exception("Unexpected error handling message on %s", topic)

        return _on_message

    # ---- gateway and server --------------------------------------------------------

    def _on_gateway_status(self, msg: ReceiveMessage) -> None:
        self._set_status(GATEWAY, msg, "gateway_id")

    def _on_server_status(self, msg: ReceiveMessage) -> None:
        self._set_status(SERVER, msg, "server_id")

    def _set_status(self, source: str, msg: ReceiveMessage, id_key: str) -> None:
        status = None
        if msg.payload:
            status = parse_service_status(decode_json(msg.payload, MAX_JSON_BYTES), id_key)
        previous = self.status[source]
        self.status[source] = status
        _log_transition(
            f"NAILA {source}",
            previous is not None and previous.online,
            status is not None and status.online,
            previous is None,
        )
        if status and status.version and (previous is None or previous.version != status.version):
            registry = dr.async_get(self.hass)
            if device := registry.async_get_device(identifiers={self.identifier(source)}):
                registry.async_update_device(device.id, sw_version=status.version)
        async_dispatcher_send(self.hass, self.signal(status_key(source)), status)

    def _on_gateway_metrics(self, msg: ReceiveMessage) -> None:
        self._set_metrics(GATEWAY, msg, GATEWAY_METRIC_KEYS)

    def _on_server_metrics(self, msg: ReceiveMessage) -> None:
        self._set_metrics(SERVER, msg, SERVER_METRIC_KEYS)

    def _set_metrics(self, source: str, msg: ReceiveMessage, keys: tuple[str, ...]) -> None:
        values = parse_metrics(decode_json(msg.payload, MAX_JSON_BYTES), keys)
        # A request without a stage (an announcement has no STT or LLM) reports it as null:
        # the "last ..." sensors keep the last measured value instead of turning Unknown.
        previous = self.metrics[source]
        values = {k: previous.get(k) if v is None else v for k, v in values.items()}
        self.metrics[source] = values
        async_dispatcher_send(self.hass, self.signal(metrics_key(source)), values)

    # ---- devices -----------------------------------------------------------------

    def _device_id(self, topic: str) -> str:
        parsed = self.topics.parse_device_topic(topic)
        if parsed is None:
            raise PayloadError("not a device topic")
        return check_device_id(parsed[0])

    def _on_device_status(self, msg: ReceiveMessage) -> None:
        device_id = self._device_id(msg.topic)
        if not msg.payload:
            self._remove_device(device_id)
            return
        status = parse_device_status(device_id, raw_payload(msg))
        previous = self.devices.get(device_id)
        _log_transition(
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
        self.devices[device_id] = status
        if previous is None or (
            previous.name,
            previous.firmware_version,
            previous.capabilities,
        ) != (
            status.name,
            status.firmware_version,
            status.capabilities,
        ):
            self._register_device(status)
        if device_id not in self.device_ids:
            self.device_ids.add(device_id)
            async_dispatcher_send(self.hass, self.signal(SIGNAL_NEW_DEVICE), device_id)
        if status.has_camera:
            self._ensure_camera(device_id)
            self.alerts.expect_camera(device_id, status.zone)
        if status.has_audio and device_id not in self.voice_devices:
            self.voice_devices.add(device_id)
            async_dispatcher_send(self.hass, self.signal(SIGNAL_NEW_VOICE_DEVICE), device_id)
        if status.has_speaker and device_id not in self.satellites:
            self.satellites.add(device_id)
            async_dispatcher_send(self.hass, self.signal(SIGNAL_NEW_SATELLITE), device_id)
        async_dispatcher_send(self.hass, self.signal(device_key(device_id)), status)

    def _register_device(self, status: DeviceStatus) -> None:
        if status.has_camera:
            model = "Camera"
        elif status.has_audio or status.has_speaker:
            model = "Voice device"
        else:
            model = "Device"
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={self.identifier(f"devices/{status.device_id}")},
            manufacturer=MANUFACTURER,
            model=model,
            name=status.name or self.readable_name(status.device_id),
            sw_version=status.firmware_version,
            suggested_area=status.zone.replace("_", " ").title() if status.zone else None,
            via_device=self.identifier(GATEWAY),
        )

    def _ensure_camera(self, device_id: str) -> None:
        if device_id not in self.cameras:
            self.cameras.add(device_id)
            async_dispatcher_send(self.hass, self.signal(SIGNAL_NEW_CAMERA), device_id)

    def _remove_device(self, device_id: str) -> None:
        """An empty retained status: the device is gone for good; remove it and its entities."""
        registry = dr.async_get(self.hass)
        device = registry.async_get_device(identifiers={self.identifier(f"devices/{device_id}")})
        self.forget_device(device_id)
        if device is not None:
            _LOGGER.info("Device %s was removed (its retained status was cleared)", device_id)
            registry.async_update_device(device.id, remove_config_entry_id=self.entry.entry_id)

    @callback
    def forget_device(self, device_id: str) -> None:
        """Drop everything known about one device (it is being removed from the registry)."""
        self.device_ids.discard(device_id)
        self.voice_devices.discard(device_id)
        self.satellites.discard(device_id)
        self.settings.forget(device_id)
        self.devices.pop(device_id, None)
        self.cameras.discard(device_id)
        self.snapshots.pop(device_id, None)
        self.alerts.forget("devices", device_id)

    def _on_device_event(self, msg: ReceiveMessage) -> None:
        device_id = self._device_id(msg.topic)
        event = parse_device_event(device_id, decode_json(msg.payload, MAX_JSON_BYTES))
        self.requests.resolve_event(event)
        async_dispatcher_send(self.hass, self.signal(device_events_key(device_id)), event)
        data = {k: v for k, v in event.data.items() if k not in ("device_id", "event")}
        self.hass.bus.async_fire(
            EVENT_DEVICE_EVENT,
            {"device_id": device_id, "event": event.event, "prefix": self.prefix, "data": data},
        )

    def _on_snapshot(self, msg: ReceiveMessage) -> None:
        device_id = self._device_id(msg.topic)
        snapshot = parse_snapshot(device_id, decode_json(msg.payload, MAX_MEDIA_BYTES))
        self.requests.resolve_snapshot(snapshot)
        if device_id not in self.device_ids:
            _LOGGER.debug("Snapshot from unknown device %s not shown", device_id)
            return
        self.snapshots[device_id] = snapshot
        self._ensure_camera(device_id)
        async_dispatcher_send(self.hass, self.signal(snapshot_key(device_id)), snapshot)

    def _on_upload_reply(self, msg: ReceiveMessage) -> None:
        levels = match_filter(self.topics.upload_reply("+"), msg.topic)
        if levels is None:
            raise PayloadError("not an upload reply topic")
        if not self.requests.waits_for_reply(levels[0]):
            return  # a reply to another client's upload
        data = decode_json(msg.payload, MAX_MEDIA_BYTES)
        self.requests.resolve_reply(parse_upload_reply(levels[0], data))


def _log_transition(what: str, was_online: bool, online: bool, first: bool) -> None:
    """Log once per online -> offline change and once per recovery (not the first status)."""
    if first or was_online == online:
        return
    if online:
        _LOGGER.info("%s is back online", what)
    else:
        _LOGGER.info("%s went offline", what)
