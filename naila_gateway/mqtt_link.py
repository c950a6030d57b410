"""The gateway's MQTT connection: reconnect with backoff, status + last will, subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

_LOGGER = logging.getLogger(__name__)

TCP_NODELAY_OPTION = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    retain: bool


class MqttLink:
    """Keeps one aiomqtt client connected; on every (re)connect: status, then subscriptions.

    `on_message` is called synchronously for each message in arrival order; it must not block.
    `publish()` is fire-and-forget and drops messages while disconnected.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str,
        status_topic: str,
        online_payload: Callable[[], bytes],
        will_payload: bytes,
        subscriptions: list[tuple[str, int]],
        on_message: Callable[[Incoming], None],
        backoff_initial: float = 0.25,
        backoff_max: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.client_id = client_id
        self.status_topic = status_topic
        self._online_payload = online_payload
        self._will_payload = will_payload
        self.subscriptions = subscriptions
        self._on_message = on_message
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()
        self.connections = 0
        """How many times a connection was established (reconnects = connections - 1)."""

    def _make_client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=self.client_id,
            will=aiomqtt.Will(self.status_topic, self._will_payload, qos=1, retain=True),
            keepalive=30,
            socket_options=[TCP_NODELAY_OPTION],
            timeout=10,
        )

    async def run(self) -> None:
        """Connect, serve, reconnect forever (until cancelled)."""
        delay = self.backoff_initial
        while True:
            try:
                async with self._make_client() as client:
                    self._client = client
                    await client.publish(
                        self.status_topic, self._online_payload(), qos=1, retain=True
                    )
                    for topic, qos in self.subscriptions:
                        await client.subscribe(topic, qos=qos)
                    self.connections += 1
                    self.connected.set()
                    delay = self.backoff_initial
                    _LOGGER.info("MQTT connected to %s:%d", self.host, self.port)
                    async for message in client.messages:
                        payload = (
                            message.payload
                            if isinstance(message.payload, bytes)
                            else str(message.payload or "").encode()
                        )
                        try:
                            self._on_message(
                                Incoming(str(message.topic), payload, bool(message.retain))
                            )
                        except Exception:
                            _LOGGER.exception("MQTT message handler failed for %s", message.topic)
            except aiomqtt.MqttError as err:
                if self.connected.is_set():
                    _LOGGER.warning("MQTT connection lost: %s; reconnecting", err)
                else:
                    _LOGGER.debug("MQTT connect to %s:%d failed: %s", self.host, self.port, err)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        client = self._client
        if client is None:
            _LOGGER.debug("MQTT down: dropped message to %s", topic)
            return
        task = asyncio.create_task(self._publish(client, topic, payload, qos, retain))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(
        self, client: aiomqtt.Client, topic: str, payload: bytes, qos: int, retain: bool
    ) -> None:
        try:
            await client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as err:
            _LOGGER.debug("MQTT publish to %s failed: %s", topic, err)

    async def publish_and_wait(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> bool:
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError:
            return False
        return True

    async def flush(self) -> None:
        """Wait for fire-and-forget publishes in flight."""
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)
