"""The one MQTT link of every NAILA process: settings, TLS/auth, backoff, status + last will.

Gateway, AI server and simulated device each hold one `MqttLink`: one broker connection per
process, a client id unique per instance, TCP_NODELAY, the subscriptions and then the retained
status on every (re)connect (whoever reacts to the status finds us listening), exponential backoff with jitter, and messages handed to one
callback in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiomqtt

from naila_protocol.settings import setting
from naila_protocol.tasks import cancel_and_wait
from naila_protocol.topics import DEFAULT_PREFIX

_LOGGER = logging.getLogger(__name__)
_CONNECTION_LOST = ("failed to receive on socket", "timeout on socket")
"""paho's ERROR lines for a dropped connection, which MqttLink rides out (reconnects)."""


def _connection_loss_is_a_warning(record: logging.LogRecord) -> bool:
    if record.levelno == logging.ERROR and str(record.msg).startswith(_CONNECTION_LOST):
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


_PAHO_LOGGER = logging.getLogger(f"{__name__}.paho")
"""paho's log (instead of its "mqtt" logger): a broker restart is not an ERROR."""
_PAHO_LOGGER.addFilter(_connection_loss_is_a_warning)

TCP_NODELAY_OPTION = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
DEFAULT_MQTT_PORT = 1883
HELD_LIMIT = 256
"""Messages kept for after a reconnect (publish(..., hold=True)); device events fit easily."""


_GROUP = "MQTT"


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How to reach the broker (MQTT_* variables, --mqtt-* flags)."""

    host: str | None = setting(
        "127.0.0.1",
        env="MQTT_HOST",
        group=_GROUP,
        help="broker host (none: MQTT off where optional)",
    )
    port: int = setting(DEFAULT_MQTT_PORT, env="MQTT_PORT", group=_GROUP, help="broker port")
    username: str | None = setting(None, env="MQTT_USERNAME", group=_GROUP, help="broker user name")
    password: str | None = setting(None, env="MQTT_PASSWORD", group=_GROUP, help="broker password")
    prefix: str = setting(DEFAULT_PREFIX, env="MQTT_PREFIX", group=_GROUP, help="topic prefix")
    tls: bool = setting(
        False,
        env="MQTT_TLS",
        group=_GROUP,
        help="TLS with the system CAs, or the CA file when set (implied by any TLS file)",
    )
    tls_ca_file: str | None = setting(
        None, env="MQTT_TLS_CA_FILE", group=_GROUP, help="broker CA certificate (PEM): use TLS"
    )
    tls_cert_file: str | None = setting(
        None, env="MQTT_TLS_CERT_FILE", group=_GROUP, help="client certificate (PEM)"
    )
    tls_key_file: str | None = setting(
        None, env="MQTT_TLS_KEY_FILE", group=_GROUP, help="client certificate key (PEM)"
    )
    tls_insecure: bool = setting(
        False,
        env="MQTT_TLS_INSECURE",
        group=_GROUP,
        help="skip the broker host name check (self-signed certificate without the right name)",
    )
    keepalive: float = setting(
        30.0,
        env="MQTT_KEEPALIVE",
        group=_GROUP,
        help="seconds between MQTT pings; the broker fires the last will after 1.5 x this",
    )

    @property
    def uses_tls(self) -> bool:
        return self.tls or any((self.tls_ca_file, self.tls_cert_file, self.tls_key_file))

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context, or None without TLS; raises OSError/SSLError on bad files."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        if self.tls_cert_file:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        if self.tls_insecure:
            context.check_hostname = False
        return context


def unique_client_id(base: str) -> str:
    """`{base}-{6 hex}`: two instances with the same configured id never knock each other off."""
    return f"{base}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """The retained status a process keeps on its status topic (online on connect, will)."""

    topic: str
    online_payload: Callable[[], bytes]
    offline_payload: bytes


class MqttLink:
    """Keeps one aiomqtt client connected; on every (re)connect: subscriptions, then status.

    `on_message` is called synchronously for each message in arrival order; it must not block.
    `publish()` is fire-and-forget and drops messages while disconnected. Own the link with
    `start()`/`close()` (or `async with`); `close()` publishes the offline status first.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        on_message: Callable[[Incoming], None],
        subscriptions: Iterable[tuple[str, int]] = (),
        status: LinkStatus | None = None,
        on_state: Callable[[bool], None] | None = None,
        mqtt5: bool = False,
        backoff_initial: float = 0.25,
        backoff_max: float = 2.0,
    ) -> None:
        if settings.host is None:
            raise ValueError("MqttLink needs a broker host")
        self.settings = settings
        self.client_id = client_id
        self.status = status
        self.subscriptions = list(subscriptions)
        self.mqtt5 = mqtt5
        self._on_message = on_message
        self._on_state = on_state
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._tls_context = settings.ssl_context()
        self._client: aiomqtt.Client | None = None
        self._publishes: set[asyncio.Task[None]] = set()
        self._held: deque[tuple[str, bytes, int, bool]] = deque()
        """Messages published with hold=True while the broker was unreachable, oldest first."""
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        """Set while the link is down (before the first connection and after each loss)."""
        self.disconnected.set()
        self.connections = 0
        """How many times a connection was established (reconnects = connections - 1)."""

    # lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"mqtt {self.client_id}")

    async def close(self, *, publish_offline: bool = True) -> None:
        """Publish the offline status (if connected; unless told not to: whoever closes has
        published a status of its own), then disconnect (a clean disconnect: no last will)."""
        if self.status is not None and publish_offline:
            await self.publish_and_wait(self.status.topic, self.status.offline_payload, retain=True)
        await self.flush()
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task], logger=_LOGGER)

    async def __aenter__(self) -> MqttLink:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _make_client(self) -> aiomqtt.Client:
        s = self.settings
        will = None
        if self.status is not None:
            will = aiomqtt.Will(self.status.topic, self.status.offline_payload, qos=1, retain=True)
        return aiomqtt.Client(
            s.host or "",
            s.port,
            username=s.username,
            password=s.password,
            identifier=self.client_id,
            will=will,
            keepalive=int(s.keepalive),
            socket_options=[TCP_NODELAY_OPTION],
            tls_context=self._tls_context,
            protocol=aiomqtt.ProtocolVersion.V5 if self.mqtt5 else aiomqtt.ProtocolVersion.V311,
            timeout=10,
            logger=_PAHO_LOGGER,
        )

    async def run(self) -> None:
        """Connect, serve, reconnect forever (until cancelled)."""
        delay = self.backoff_initial
        while True:
            try:
                async with self._make_client() as client:
                    self._client = client
                    for topic, qos in list(self.subscriptions):
                        await client.subscribe(topic, qos=qos)
                    if self.status is not None:
                        await client.publish(
                            self.status.topic, self.status.online_payload(), qos=1, retain=True
                        )
                    await self._publish_held(client)
                    self.connections += 1
                    self.disconnected.clear()
                    self.connected.set()
                    self._state(True)
                    delay = self.backoff_initial
                    _LOGGER.info(
                        "MQTT connected to %s:%d as %s",
                        self.settings.host,
                        self.settings.port,
                        self.client_id,
                    )
                    async for message in client.messages:
                        self._dispatch(message)
            except aiomqtt.MqttError as err:
                if self.connected.is_set():
                    _LOGGER.warning("MQTT connection lost: %s; reconnecting", err)
                else:
                    _LOGGER.debug(
                        "MQTT connect to %s:%d failed: %s",
                        self.settings.host,
                        self.settings.port,
                        err,
                    )
            finally:
                self._client = None
                if self.connected.is_set():
                    self._state(False)
                self.connected.clear()
                self.disconnected.set()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.backoff_max)

    def _state(self, up: bool) -> None:
        if self._on_state is not None:
            try:
                self._on_state(up)
            except Exception:
                _LOGGER.exception("MQTT state handler failed")

    # subscriptions --------------------------------------------------------------------
    async def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe now (if connected) and again after every reconnect."""
        if (topic, qos) not in self.subscriptions:
            self.subscriptions.append((topic, qos))
        client = self._client
        if client is not None:
            try:
                await client.subscribe(topic, qos=qos)
            except aiomqtt.MqttError as err:
                _LOGGER.debug("MQTT subscribe to %s failed: %s", topic, err)

    async def unsubscribe(self, topic: str) -> None:
        self.subscriptions = [item for item in self.subscriptions if item[0] != topic]
        client = self._client
        if client is not None:
            try:
                await client.unsubscribe(topic)
            except aiomqtt.MqttError as err:
                _LOGGER.debug("MQTT unsubscribe from %s failed: %s", topic, err)

    def _dispatch(self, message: aiomqtt.Message) -> None:
        raw = message.payload
        payload = raw if isinstance(raw, bytes) else str(raw or "").encode()
        try:
            self._on_message(Incoming(str(message.topic), payload, bool(message.retain)))
        except Exception:
            _LOGGER.exception("MQTT message handler failed for %s", message.topic)

    # publishing -----------------------------------------------------------------------
    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False, hold: bool = False
    ) -> None:
        """Fire and forget. While the broker is unreachable the message is dropped, or with
        `hold` kept (at most HELD_LIMIT, oldest dropped first) and sent after the reconnect."""
        message = (topic, payload, qos, retain)
        client = self._client
        if client is None:
            if hold:
                self._hold(message)
            else:
                _LOGGER.debug("MQTT down: dropped message to %s", topic)
            return
        task = asyncio.create_task(self._publish(client, message, hold))
        self._publishes.add(task)
        task.add_done_callback(self._publishes.discard)

    async def _publish(
        self, client: aiomqtt.Client, message: tuple[str, bytes, int, bool], hold: bool
    ) -> None:
        topic, payload, qos, retain = message
        try:
            await client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as err:
            _LOGGER.debug("MQTT publish to %s failed: %s", topic, err)
            if hold:
                self._hold(message)

    def _hold(self, message: tuple[str, bytes, int, bool]) -> None:
        if len(self._held) >= HELD_LIMIT:
            dropped = self._held.popleft()
            _LOGGER.warning("MQTT down: too many held messages, dropped one to %s", dropped[0])
        self._held.append(message)

    async def _publish_held(self, client: aiomqtt.Client) -> None:
        """Send what was held while the broker was away, in order (before anything new)."""
        while self._held:
            topic, payload, qos, retain = self._held[0]
            await client.publish(topic, payload, qos=qos, retain=retain)
            self._held.popleft()

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
        """Wait for fire-and-forget publishes in flight (they never raise)."""
        if self._publishes:
            await asyncio.gather(*self._publishes, return_exceptions=True)
