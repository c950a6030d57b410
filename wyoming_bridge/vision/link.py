"""The process's MQTT link as the vision jobs use it: JSON out, per-device subscriptions."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from naila_protocol.mqtt import MqttLink
from naila_protocol.topics import QOS_RELIABLE

_LOGGER = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], Awaitable[bool]]
"""(topic, JSON object) -> True once the broker has it (the jobs' only way out)."""


class VisionLink:
    """Holds the bound MqttLink (None until `bind`, or while a vision-only run is stopped)."""

    def __init__(self) -> None:
        self.link: MqttLink | None = None

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.connected.is_set()

    async def publish(self, topic: str, payload: dict[str, Any], qos: int = QOS_RELIABLE) -> bool:
        link = self.link
        body = json.dumps(payload, separators=(",", ":")).encode()
        if link is None or not await link.publish_and_wait(topic, body, qos=qos):
            _LOGGER.warning("not connected to MQTT: dropped message for %s", topic)
            return False
        return True
