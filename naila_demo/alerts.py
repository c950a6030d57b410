"""The demo's view of alerts: every `{prefix}/alerts/{zone}/{type}` message, parsed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from naila_demo.service import AsyncService
from naila_protocol.mqtt import Incoming, MqttLink, MqttSettings, unique_client_id
from naila_protocol.topics import QOS_RELIABLE, Topics

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Alert:
    alert_type: str
    zone: str
    confidence: float
    source_device: str

    def describe(self) -> str:
        return (
            f"{self.alert_type} in zone {self.zone}, confidence {self.confidence:.2f} "
            f"(camera {self.source_device})"
        )


def parse_alert(payload: bytes) -> Alert | None:
    """The alert of a message, None (and a log line) if it is not one."""
    try:
        data: dict[str, Any] = json.loads(payload)
        return Alert(
            str(data["alert_type"]),
            str(data["zone"]),
            float(data["confidence"]),
            str(data.get("source_device", "")),
        )
    except (ValueError, KeyError, TypeError) as err:
        _LOGGER.warning("ignoring a malformed alert: %s", err)
        return None


class AlertWatcher(AsyncService):
    """`async with AlertWatcher(mqtt) as alerts:` then `await alerts.first(s)`."""

    def __init__(self, mqtt: MqttSettings) -> None:
        self.topics = Topics(mqtt.prefix)
        self.alerts: list[Alert] = []
        self._arrived = asyncio.Event()
        self.link = MqttLink(
            mqtt,
            client_id=unique_client_id("naila-demo-alerts"),
            on_message=self._on_message,
            subscriptions=[(self.topics.alerts_wildcard, QOS_RELIABLE)],
        )

    async def start(self, within_s: float = 10.0) -> None:
        """Connected and subscribed (no alert published from now on is missed)."""
        self.link.start()
        await asyncio.wait_for(self.link.connected.wait(), within_s)

    def _on_message(self, message: Incoming) -> None:
        alert = parse_alert(message.payload)
        if alert is not None:
            self.alerts.append(alert)
            self._arrived.set()

    async def first(self, within_s: float) -> Alert | None:
        """The first alert seen (waiting up to `within_s`), None if none came."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), within_s)
        return self.alerts[0] if self.alerts else None

    async def stop(self) -> None:
        await self.link.close()
