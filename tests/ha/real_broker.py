"""HA's real MQTT client on a real mosquitto of the test's own (127.0.0.1, free port).

Fixtures `broker_port`, `real_mqtt` and `peer` (a `Peer` client), shared by the HA suites that need a
real broker.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"mosquitto did not listen on {port}")


class Peer:
    """A plain paho client playing the gateway, the AI server and the devices.

    `answer(topic, handler)` calls `handler` with each JSON message on that exact topic;
    `record(topic_filter)` keeps every message matching it in `messages` (topic, payload, retain).
    """

    def __init__(self, port: int) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="naila-test-peer")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.messages: list[tuple[str, bytes, bool]] = []
        self._recorded: list[str] = []
        self.client.on_message = self._on_message

    def publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        self.client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)

    def answer(self, topic: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self.handlers[topic] = handler
        self._subscribe(topic)

    def record(self, topic_filter: str) -> None:
        self._recorded.append(topic_filter)
        self._subscribe(topic_filter)

    def _subscribe(self, topic_filter: str) -> None:
        """Subscribe and wait for the broker's SUBACK, so nothing published after is missed."""
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.subscribe(topic_filter, qos=1)
        if not subscribed.wait(5):
            raise TimeoutError(f"no SUBACK for {topic_filter}")

    def received(self, topic: str) -> list[bytes]:
        """Payloads received on one topic, oldest first."""
        return [payload for t, payload, _ in list(self.messages) if t == topic]

    def _on_message(self, _client: Any, _userdata: Any, msg: paho.MQTTMessage) -> None:
        if any(paho.topic_matches_sub(f, msg.topic) for f in self._recorded):
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
        if handler := self.handlers.get(msg.topic):
            handler(json.loads(msg.payload))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def subscribed(hass: HomeAssistant) -> bool:
    """True once HA's client has sent every SUBSCRIBE and got every ack (client internals)."""
    client = hass.data["mqtt"].client
    return not client._pending_subscriptions and not client._pending_operations


@pytest.fixture
def broker_port(socket_enabled: None, tmp_path: Path) -> Iterator[int]:
    """A mosquitto of its own on a free port of 127.0.0.1."""
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed")
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "persistence false\n"
    )
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll `check` (state written by HA's MQTT thread hand-off) for up to `seconds`."""
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - polls HA state and MQTT client internals
            await asyncio.sleep(0.02)


@pytest.fixture
async def real_mqtt(
    hass: HomeAssistant, broker_port: int, mock_hass_config: None
) -> AsyncGenerator[MockConfigEntry]:
    """HA's MQTT integration with its real paho client, connected to the broker."""
    entry = MockConfigEntry(
        domain=ha_mqtt.DOMAIN,
        data={"broker": "127.0.0.1", "port": broker_port},
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await until(lambda: ha_mqtt.is_connected(hass))
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
async def peer(broker_port: int, hass: HomeAssistant) -> AsyncGenerator[Peer]:
    """A `Peer` on the test's broker (playing the gateway, the AI server and the devices)."""
    client = await hass.async_add_executor_job(Peer, broker_port)
    yield client
    await hass.async_add_executor_job(client.close)
