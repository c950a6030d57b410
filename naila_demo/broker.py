"""Embedded amqtt MQTT broker bound to 127.0.0.1 with TCP_NODELAY on every client socket."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from amqtt.broker import Broker

from naila_demo.service import AsyncService

_LOGGER = logging.getLogger(__name__)

LISTENER = "default"


class _NoDelayBroker(Broker):
    """amqtt Broker that disables Nagle on accepted sockets (Nagle adds ~40 ms per MQTT step)."""

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await super().stream_connected(reader, writer, listener_name)


class EmbeddedBroker(AsyncService):
    """In-process MQTT 3.1.1 broker; `port=0` picks a free port (read it from `.port`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._broker: _NoDelayBroker | None = None
        self.port = 0

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {LISTENER: {"type": "tcp", "bind": f"{self.host}:{self._requested_port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    async def start(self) -> None:
        broker = _NoDelayBroker(self._config())
        await broker.start()
        self._broker = broker
        self.port = self._bound_port(broker)
        _LOGGER.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    @staticmethod
    def _bound_port(broker: Broker) -> int:
        server = broker._servers[LISTENER].instance  # amqtt exposes no public accessor
        sockets = getattr(server, "sockets", None) or []
        for sock in sockets:
            return int(sock.getsockname()[1])
        raise RuntimeError("embedded broker has no listening socket")

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
            _LOGGER.info("embedded MQTT broker stopped")


__all__ = ["EmbeddedBroker"]
