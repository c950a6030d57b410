"""naila_protocol.mqtt.MqttLink against a real mosquitto: TLS, client certificates, passwords,
no anonymous access, and the retained status coming back by itself after a broker restart."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from paho.mqtt.client import MQTT_LOG_ERR

from naila_protocol.mqtt import Incoming, LinkStatus, MqttLink, MqttSettings, unique_client_id
from tests.conftest import Broker
from tests.protocol.tls_certs import PASSWORD, USER, Pki, make_pki, start_tls_broker


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    broker = start_tls_broker(tmp_path, pki)
    yield broker
    broker.stop()


def _settings(broker: Broker, pki: Pki, **overrides: object) -> MqttSettings:
    values: dict[str, object] = {
        "host": broker.host,
        "port": broker.port,
        "username": USER,
        "password": PASSWORD,
        "tls_ca_file": str(pki.ca),
        "tls_cert_file": str(pki.client_cert),
        "tls_key_file": str(pki.client_key),
    }
    values.update(overrides)
    return MqttSettings(**values)  # type: ignore[arg-type]


class Inbox:
    """Collects the messages of one link and lets a test wait for one that matches."""

    def __init__(self) -> None:
        self.messages: list[Incoming] = []
        self._changed = asyncio.Condition()
        self._pending: set[asyncio.Task[None]] = set()

    def __call__(self, message: Incoming) -> None:
        self.messages.append(message)
        task = asyncio.get_running_loop().create_task(self._notify())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, topic: str, payload: bytes, within: float) -> Incoming:
        def found() -> Incoming | None:
            return next(
                (m for m in self.messages if m.topic == topic and m.payload == payload), None
            )

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        result = found()
        assert result is not None
        return result


def _status_link(settings: MqttSettings, topic: str) -> MqttLink:
    return MqttLink(
        settings,
        client_id=unique_client_id("test-status"),
        on_message=lambda _message: None,
        status=LinkStatus(topic, lambda: b'{"online": true}', b'{"online": false}'),
    )


async def test_tls_client_certificate_and_password(tls_broker: Broker, pki: Pki) -> None:
    settings = _settings(tls_broker, pki)
    assert settings.uses_tls
    inbox = Inbox()
    watcher = MqttLink(
        settings,
        client_id=unique_client_id("test-watcher"),
        on_message=inbox,
        subscriptions=[("t/status", 1)],
    )
    async with watcher, _status_link(settings, "t/status") as link:
        await asyncio.wait_for(link.connected.wait(), 15)
        await inbox.wait_for("t/status", b'{"online": true}', 15)
    assert watcher.connections == 1


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"password": "wrong"}, id="wrong-password"),
        pytest.param({"username": None, "password": None}, id="anonymous"),
        pytest.param({"tls_cert_file": None, "tls_key_file": None}, id="no-client-certificate"),
        pytest.param(
            {"tls_ca_file": None, "tls_cert_file": None, "tls_key_file": None, "tls": False},
            id="plain-tcp",
        ),
    ],
)
async def test_broker_refuses_clients_without_credentials(
    tls_broker: Broker, pki: Pki, overrides: dict[str, object]
) -> None:
    refused = _status_link(_settings(tls_broker, pki, **overrides), "t/refused")
    inbox = Inbox()
    good = MqttLink(
        _settings(tls_broker, pki),
        client_id=unique_client_id("test-good"),
        on_message=inbox,
        subscriptions=[("t/#", 1)],
    )
    async with good, refused:
        await asyncio.wait_for(good.connected.wait(), 15)
        # Several connect attempts of the refused link fit in this window (backoff <= 2 s).
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(refused.connected.wait(), 3)
    assert refused.connections == 0
    assert not [m for m in inbox.messages if m.topic == "t/refused"]


def test_bad_tls_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing-ca.pem"
    with pytest.raises(OSError):
        MqttSettings(tls_ca_file=str(missing)).ssl_context()
    with pytest.raises(ValueError, match="broker host"):
        MqttLink(MqttSettings(host=None), client_id="x", on_message=lambda _m: None)


async def test_retained_status_is_back_within_5_s_after_broker_restart(
    mqtt_broker: Broker,
) -> None:
    """mosquitto without persistence forgets retained messages; the link republishes its own."""
    settings = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port)
    topic = "t/restart/status"
    async with _status_link(settings, topic) as link:
        await asyncio.wait_for(link.connected.wait(), 15)
        mqtt_broker.stop()
        await asyncio.wait_for(link.disconnected.wait(), 15)
        mqtt_broker.start()
        restarted = time.monotonic()
        inbox = Inbox()
        async with MqttLink(
            settings,
            client_id=unique_client_id("test-late"),
            on_message=inbox,
            subscriptions=[(topic, 1)],
        ):
            await inbox.wait_for(topic, b'{"online": true}', 10)
        assert time.monotonic() - restarted <= 5.0
        # And it is retained again: a subscriber arriving now gets it from the broker.
        late = Inbox()
        async with MqttLink(
            settings,
            client_id=unique_client_id("test-later"),
            on_message=late,
            subscriptions=[(topic, 1)],
        ):
            message = await late.wait_for(topic, b'{"online": true}', 10)
        assert message.retain
        assert link.connections == 2


async def test_close_publishes_offline_status(mqtt_broker: Broker) -> None:
    settings = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port)
    inbox = Inbox()
    async with MqttLink(
        settings,
        client_id=unique_client_id("test-watch"),
        on_message=inbox,
        subscriptions=[("t/close", 1)],
    ) as watcher:
        await asyncio.wait_for(watcher.connected.wait(), 15)
        link = _status_link(settings, "t/close")
        link.start()
        await inbox.wait_for("t/close", b'{"online": true}', 15)
        await link.close()
        await inbox.wait_for("t/close", b'{"online": false}', 15)


def test_client_ids_are_unique_per_instance() -> None:
    ids = {unique_client_id("naila-server-ai-1") for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("naila-server-ai-1-") for i in ids)


async def test_a_dropped_connection_is_a_warning_in_paho_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """paho logs a broker restart as ERROR ('failed to receive on socket'); MqttLink rides it
    out, so it is a WARNING; paho's other errors stay errors."""
    link = MqttLink(MqttSettings(host="127.0.0.1"), client_id="log-test", on_message=print)
    paho = link._make_client()._client
    with caplog.at_level(logging.DEBUG, logger="naila_protocol.mqtt.paho"):
        paho._easy_log(MQTT_LOG_ERR, "failed to receive on socket: %s", OSError(32, "Broken pipe"))
        paho._easy_log(MQTT_LOG_ERR, "Caught exception in on_socket_open: %s", ValueError("x"))
    levels = [(r.name, r.levelname, r.getMessage()[:28]) for r in caplog.records]
    assert levels == [
        ("naila_protocol.mqtt.paho", "WARNING", "failed to receive on socket:"),
        ("naila_protocol.mqtt.paho", "ERROR", "Caught exception in on_socke"),
    ]
