"""The NAILA hub: MQTT subscriptions, parsed state, the gateway's and server's status and
metrics, and the parts that handle the rest (devices.py, alerts.py, relay.py, requests.py)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
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
    MANUFACTURER,
    MAX_JSON_BYTES,
    MAX_MEDIA_BYTES,
    QOS_RELIABLE,
    QOS_TELEMETRY,
    Topics,
)
from .devices import NailaDevices, log_transition
from .models import (
    GATEWAY,
    GATEWAY_METRIC_KEYS,
    SERVER,
    SERVER_METRIC_KEYS,
    SIGNAL_CONNECTION,
    metrics_key,
    status_key,
)
from .offloop import OffLoopDecoder
from .payloads import (
    DeviceStatus,
    ServiceStatus,
    Snapshot,
    decode_json,
    parse_metrics,
    parse_service_status,
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
        self.device_messages = NailaDevices(self)

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
        t, d = self.topics, self.device_messages
        reliable, telemetry, json_max, media_max = (
            QOS_RELIABLE,
            QOS_TELEMETRY,
            MAX_JSON_BYTES,
            MAX_MEDIA_BYTES,
        )
        # (topic filter, handler, name counted in `rejected`, QoS, largest payload)
        handlers: list[tuple[str, Callable[[ReceiveMessage], None], str, int, int]] = [
            (t.gateway_status, self._on_gateway_status, "gateway_status", reliable, json_max),
            (t.server_status, self._on_server_status, "server_status", reliable, json_max),
            (t.gateway_metrics, self._on_gateway_metrics, "gateway_metrics", telemetry, json_max),
            (t.server_metrics, self._on_server_metrics, "server_metrics", telemetry, json_max),
            (t.device_wildcard("status"), d.on_status, "device_status", reliable, json_max),
            (t.device_wildcard("events"), d.on_event, "device_event", reliable, json_max),
            (
                t.device_wildcard("settings"),
                self.settings.on_settings,
                "device_settings",
                reliable,
                json_max,
            ),
        ]
        for topic_filter, handler, name, qos, max_bytes in handlers:
            unsubscribe = await mqtt.async_subscribe(
                self.hass, topic_filter, self.guarded(handler, max_bytes, name), qos, encoding=None
            )
            self.entry.async_on_unload(unsubscribe)
        media = OffLoopDecoder(self, media_max)
        for topic_filter, on_message in (
            (
                t.device_wildcard("media/snapshot"),
                media.handler("snapshot", d.decode_snapshot, d.on_snapshot),
            ),
            (
                t.upload_reply("+"),
                media.handler(
                    "upload_reply", d.decode_upload_reply, d.on_upload_reply, d.wants_upload_reply
                ),
            ),
        ):
            unsubscribe = await mqtt.async_subscribe(
                self.hass, topic_filter, on_message, reliable, encoding=None
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
        self, handler: Callable[[ReceiveMessage], None], max_bytes: int, name: str | None = None
    ) -> Callable[[ReceiveMessage], None]:
        """Wrap a handler so bad input is logged and counted (under `name`, by default the
        handler's name without `_on_`), never raised into MQTT."""
        counted = name or handler.__name__.removeprefix("_on_")

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
                self.rejected[counted] += 1
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
        log_transition(
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

    # ---- devices (devices.py) ------------------------------------------------------

    @callback
    def forget_device(self, device_id: str) -> None:
        """Drop everything known about one device (it is being removed from the registry)."""
        self.device_messages.forget(device_id)
