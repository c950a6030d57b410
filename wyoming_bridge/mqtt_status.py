"""Optional MQTT: retained server status with a last will, per-request metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from naila_protocol.framing import ReplySummary
from naila_protocol.topics import DEFAULT_PREFIX, QOS_RELIABLE, QOS_TELEMETRY, Topics

from . import __version__
from .pipeline import RequestInfo

_LOGGER = logging.getLogger(__name__)
METRIC_KEYS = ("stt_ms", "llm_first_token_ms", "tts_first_chunk_ms", "first_audio_ms", "total_ms")


@dataclass(slots=True)
class MqttSettings:
    host: str | None = None
    """None = MQTT off."""
    port: int = 1883
    username: str | None = None
    password: str | None = None
    prefix: str = DEFAULT_PREFIX
    server_id: str = "ai-1"
    reconnect_s: float = 5.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MqttStatus:
    """Publishes `{prefix}/server/status` (retained, last will) and `/server/metrics`."""

    def __init__(
        self,
        settings: MqttSettings,
        services: list[str],
        active_requests: Callable[[], int] = lambda: 0,
    ) -> None:
        self.settings = settings
        self.services = services
        self.topics = Topics(settings.prefix)
        self._active_requests = active_requests
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._task: asyncio.Task[None] | None = None
        self._requests_total = 0
        self.connected = asyncio.Event()

    def status_payload(self, online: bool) -> bytes:
        return json.dumps(
            {
                "online": online,
                "server_id": self.settings.server_id,
                "version": __version__,
                "services": self.services,
                "timestamp": _now() if online else None,
            }
        ).encode()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt status")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def record(self, info: RequestInfo, summary: ReplySummary) -> None:
        """Queue one request's metrics (RequestObserver signature)."""
        self._requests_total += 1
        payload: dict[str, Any] = {
            "server_id": self.settings.server_id,
            "timestamp": _now(),
            "device_id": info.device_id,
            "request_id": info.request_id,
            **{key: summary.timings.get(key) for key in METRIC_KEYS},
            "requests_total": self._requests_total,
            "active_requests": self._active_requests(),
            "tasks": len(asyncio.all_tasks()),
        }
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(payload)

    async def _run(self) -> None:
        import aiomqtt  # noqa: PLC0415 - only when MQTT is configured

        will = aiomqtt.Will(
            self.topics.server_status, self.status_payload(False), qos=QOS_RELIABLE, retain=True
        )
        while True:
            try:
                async with aiomqtt.Client(
                    self.settings.host or "localhost",
                    self.settings.port,
                    username=self.settings.username,
                    password=self.settings.password,
                    identifier=f"naila-server-{self.settings.server_id}",
                    will=will,
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                ) as client:
                    await client.publish(
                        self.topics.server_status,
                        self.status_payload(True),
                        QOS_RELIABLE,
                        retain=True,
                    )
                    self.connected.set()
                    _LOGGER.info("MQTT connected to %s:%d", self.settings.host, self.settings.port)
                    try:
                        while True:
                            payload = await self._queue.get()
                            await client.publish(
                                self.topics.server_metrics, json.dumps(payload), QOS_TELEMETRY
                            )
                    except asyncio.CancelledError:
                        with contextlib.suppress(Exception):
                            await client.publish(
                                self.topics.server_status,
                                self.status_payload(False),
                                QOS_RELIABLE,
                                retain=True,
                            )
                        raise
            except aiomqtt.MqttError as err:
                self.connected.clear()
                _LOGGER.warning("MQTT: %s; retrying in %.0f s", err, self.settings.reconnect_s)
                await asyncio.sleep(self.settings.reconnect_s)
