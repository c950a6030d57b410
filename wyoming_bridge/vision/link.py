"""The process's MQTT link as the vision jobs use it: JSON out, per-device subscriptions."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from naila_protocol.mqtt import MqttLink
from naila_protocol.topics import QOS_RELIABLE

_LOGGER = logging.getLogger(__name__)

LARGE_TEXT = 64 * 1024
"""A payload holding a string longer than this (base64 media) is encoded in a thread."""

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
        if any(isinstance(value, str) and len(value) > LARGE_TEXT for value in payload.values()):
            body = await asyncio.to_thread(_encode, payload)  # media as base64: megabytes
        else:
            body = _encode(payload)
        if link is None or not await link.publish_and_wait(topic, body, qos=qos):
            _LOGGER.warning("not connected to MQTT: dropped message for %s", topic)
            return False
        return True


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
