"""What the broker says about the home: integration online, device settings and statuses."""

from __future__ import annotations

import logging

from naila_protocol.mqtt import Incoming
from naila_protocol.payloads import DeviceSettings, DeviceStatus, IntegrationStatus, PayloadError
from naila_protocol.topics import HA_STATUS_TOPIC, QOS_RELIABLE, Topics
from naila_protocol.vocab import DEFAULT_CONVERSATION_MODE, ConversationMode

_LOGGER = logging.getLogger(__name__)

MAX_DEVICES = 1024
"""Retained settings/statuses remembered (a broker full of junk ids cannot grow memory)."""


class HomeState:
    """Fed with broker messages (`handle`); read by the router and the LLM prompt."""

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.integration: IntegrationStatus | None = None
        self.ha_online = True
        """Home Assistant's own MQTT status; `offline` when HA stopped (its last will)."""
        self._settings: dict[str, DeviceSettings] = {}
        self._devices: dict[str, DeviceStatus] = {}

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        t = self.topics
        return [
            (t.integration_status, QOS_RELIABLE),
            (HA_STATUS_TOPIC, QOS_RELIABLE),
            (t.device_wildcard("settings"), QOS_RELIABLE),
            (t.device_wildcard("status"), QOS_RELIABLE),
        ]

    @property
    def integration_online(self) -> bool:
        return self.ha_online and self.integration is not None and self.integration.online

    def mode(self, device_id: str) -> ConversationMode:
        settings = self._settings.get(device_id)
        return (settings and settings.conversation) or DEFAULT_CONVERSATION_MODE

    def agent_id(self, device_id: str) -> str | None:
        settings = self._settings.get(device_id)
        return settings.agent_id if settings else None

    def device(self, device_id: str) -> DeviceStatus | None:
        return self._devices.get(device_id)

    def handle(self, message: Incoming) -> bool:
        """Take a message this state subscribed to; False if the topic is not one of them."""
        topic = message.topic
        try:
            if topic == self.topics.integration_status:
                self._set_integration(IntegrationStatus.from_json(message.payload))
                return True
            if topic == HA_STATUS_TOPIC:
                self._set_ha_online(message.payload)
                return True
            parsed = self.topics.parse_device_topic(topic)
            if parsed is None or parsed[1] not in ("settings", "status"):
                return False
            device_id, leaf = parsed
            if leaf == "settings":
                self._remember(self._settings, device_id, message.payload, DeviceSettings)
            else:
                self._remember(self._devices, device_id, message.payload, DeviceStatus)
        except PayloadError as err:
            _LOGGER.warning("ignoring bad payload on %s: %s", topic, err)
        return True

    def _set_integration(self, status: IntegrationStatus) -> None:
        was = self.integration_online
        self.integration = status
        if self.integration_online != was:
            _LOGGER.info(
                "Home Assistant integration %s", "online" if self.integration_online else "offline"
            )

    def _set_ha_online(self, payload: bytes) -> None:
        was = self.integration_online
        self.ha_online = payload.strip() != b"offline"
        if self.integration_online != was:
            _LOGGER.info("Home Assistant %s", "online" if self.ha_online else "offline")

    @staticmethod
    def _remember(
        table: dict, device_id: str, payload: bytes, kind: type[DeviceSettings] | type[DeviceStatus]
    ) -> None:
        if not payload:  # retained value cleared: the device was removed
            table.pop(device_id, None)
            return
        value = kind.from_json(payload, device_id)
        if device_id not in table and len(table) >= MAX_DEVICES:
            _LOGGER.warning(
                "ignoring %s of %s: more than %d devices", kind.__name__, device_id, MAX_DEVICES
            )
            return
        table[device_id] = value
