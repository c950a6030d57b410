"""Optional MQTT: retained server status with a last will, per-request metrics."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from naila_protocol.framing import ReplySummary
from naila_protocol.metrics import SERVER_STAGE_TIMINGS, ServerMetric
from naila_protocol.mqtt import Incoming, LinkStatus, MqttLink, MqttSettings, unique_client_id
from naila_protocol.payloads import utc_timestamp
from naila_protocol.topics import QOS_RELIABLE, QOS_TELEMETRY, Topics

from . import __version__
from .pipeline import RequestInfo

_LOGGER = logging.getLogger(__name__)


class MqttStatus:
    """The server's one MQTT link: `{prefix}/server/status` (retained, last will),
    `/server/metrics`, and the subscriptions of whoever reads the broker (conversation routing)."""

    def __init__(
        self,
        settings: MqttSettings,
        server_id: str,
        services: list[str],
        active_requests: Callable[[], int] = lambda: 0,
        *,
        subscriptions: Iterable[tuple[str, int]] = (),
        on_message: Callable[[Incoming], None] | None = None,
        on_state: Callable[[bool], None] | None = None,
        mqtt5: bool = False,
    ) -> None:
        self.settings = settings
        self.server_id = server_id
        self.services = services
        self.topics = Topics(settings.prefix)
        self._active_requests = active_requests
        self._requests_total = 0
        self.link = MqttLink(
            settings,
            client_id=unique_client_id(f"naila-server-{server_id}"),
            on_message=on_message or (lambda _message: None),
            subscriptions=subscriptions,
            status=LinkStatus(
                self.topics.server_status,
                lambda: self.status_payload(True),
                self.status_payload(False),
            ),
            on_state=on_state,
            mqtt5=mqtt5,
        )
        self.connected = self.link.connected
        self.disconnected = self.link.disconnected

    def status_payload(self, online: bool) -> bytes:
        return json.dumps(
            {
                "online": online,
                "server_id": self.server_id,
                "version": __version__,
                "services": self.services,
                "timestamp": utc_timestamp() if online else None,
            }
        ).encode()

    def start(self) -> None:
        self.link.start()

    async def close(self) -> None:
        await self.link.close()

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, not retained; dropped while the broker is unreachable."""
        self.link.publish(topic, payload, qos=QOS_RELIABLE)

    def record(self, info: RequestInfo, summary: ReplySummary) -> None:
        """Publish one request's metrics (RequestObserver signature)."""
        self._requests_total += 1
        payload: dict[str, Any] = {
            "server_id": self.server_id,
            "timestamp": utc_timestamp(),
            "device_id": info.device_id,
            "request_id": info.request_id,
            **{key: summary.timings.get(key) for key in SERVER_STAGE_TIMINGS},
            "route": summary.route,
            "route_reason": summary.route_reason,
            ServerMetric.REQUESTS_TOTAL: self._requests_total,
            ServerMetric.ACTIVE_REQUESTS: self._active_requests(),
            ServerMetric.TASKS: len(asyncio.all_tasks()),
        }
        self.link.publish(
            self.topics.server_metrics, json.dumps(payload).encode(), qos=QOS_TELEMETRY
        )
