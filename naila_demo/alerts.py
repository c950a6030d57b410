"""The demo's view of alerts: every `{prefix}/alerts/{zone}/{type}` message, parsed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any

import aiomqtt

from naila_demo.service import AsyncService
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
    """`async with AlertWatcher(host, port, prefix) as alerts:` then `await alerts.first(s)`."""

    def __init__(
        self,
        host: str,
        port: int,
        prefix: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._client = aiomqtt.Client(
            host,
            port,
            username=username,
            password=password,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self.topics = Topics(prefix)
        self.alerts: list[Alert] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._entered = False

    async def start(self) -> None:
        await self._client.__aenter__()
        self._entered = True
        await self._client.subscribe(self.topics.alerts_wildcard, qos=QOS_RELIABLE)
        self._task = asyncio.create_task(self._collect(), name="demo alerts")

    async def _collect(self) -> None:
        async for message in self._client.messages:
            alert = parse_alert(bytes(message.payload))
            if alert is not None:
                self.alerts.append(alert)
                self._arrived.set()

    async def first(self, within_s: float) -> Alert | None:
        """The first alert seen (waiting up to `within_s`), None if none came."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), within_s)
        return self.alerts[0] if self.alerts else None

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._entered:
            self._entered = False
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.__aexit__(None, None, None)
