"""Gateway test fixtures: loopback ICE, a framing reply server, gateway and device factories."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import aiomqtt
import numpy as np
import pytest

from naila_gateway import Gateway, GatewayConfig
from naila_gateway.pcm import FRAME_SAMPLES
from naila_protocol.mqtt import MqttSettings
from naila_protocol.topics import Topics
from naila_sim import SimDevice, SimDeviceConfig, loopback_host_addresses
from tests.conftest import Broker
from tests.gateway.reply_server import ReplyServer
from tests.helpers import wait_until


@pytest.fixture(autouse=True)
def loopback_ice() -> Any:
    """aioice skips 127.0.0.1 when gathering host candidates; offer only loopback here."""
    with loopback_host_addresses():
        yield


@pytest.fixture(autouse=True)
def quiet_webrtc_logs() -> None:
    for name in ("aioice", "aiortc"):
        logging.getLogger(name).setLevel(logging.WARNING)


@pytest.fixture
async def reply_server() -> AsyncIterator[ReplyServer]:
    server = ReplyServer()
    await server.start()
    yield server
    await server.stop()


GatewayFactory = Callable[..., Awaitable[Gateway]]
DeviceFactory = Callable[..., Awaitable[SimDevice]]


@pytest.fixture
async def make_gateway(mqtt_broker: Broker) -> AsyncIterator[GatewayFactory]:
    """`await make_gateway(ai_server_port=..., **config)` -> a started gateway on the broker."""
    gateways: list[Gateway] = []

    async def make(**overrides: Any) -> Gateway:
        config = GatewayConfig(
            mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
            **{"metrics_interval": 1.0, **overrides},
        )
        gateway = Gateway(config)
        await gateway.start()
        await gateway.mqtt.connected.wait()
        gateways.append(gateway)
        return gateway

    yield make
    for gateway in gateways:
        await gateway.stop()


@pytest.fixture
async def make_device(mqtt_broker: Broker) -> AsyncIterator[DeviceFactory]:
    """`await make_device("kitchen")` -> a simulated device, MQTT connected, status published."""
    devices: list[SimDevice] = []

    async def make(device_id: str, **overrides: Any) -> SimDevice:
        config = SimDeviceConfig(
            device_id, mqtt_host=mqtt_broker.host, mqtt_port=mqtt_broker.port, **overrides
        )
        device = SimDevice(config)
        await device.start()
        devices.append(device)
        return device

    yield make
    for device in devices:
        await device.stop()


async def handled_before_marker(
    gateway: Gateway, client: aiomqtt.Client, devices: Iterable[str], marker: str = "marker"
) -> None:
    """Wait until `gateway` has handled everything `client` published so far to `devices`.

    Publishes a status for a new device `marker` after them (one connection: the broker keeps
    the order), waits for its session, then takes each device's turn, so that every message of
    those devices that came before the marker has run to its end. What the test asserts did
    not happen then had every chance to.
    """
    status = {"device_id": marker, "online": True, "capabilities": ["audio"]}
    await client.publish(
        Topics(gateway.config.mqtt.prefix).device_status(marker), json.dumps(status), qos=1
    )
    await wait_until(lambda: marker in gateway.sessions)
    for device_id in devices:
        async with gateway.device_turn(device_id):
            pass


SETTLE_FRAMES = 25
"""Frames beyond the silence that ends an utterance (jitter, frames still in flight)."""


async def say_and_settle(gateway: Gateway, device: SimDevice, samples: np.ndarray) -> None:
    """Say `samples`, then wait until `gateway` has processed every frame of them and the
    silence after them that would end an utterance: whatever this speech was going to start
    (a wake, an utterance sent to the server) has started. Counted in frames the gateway
    handled, not in seconds, so a slow machine cannot make it return early."""
    start = gateway.metrics.frames_in
    await device.say(samples)
    spoken = -(-len(samples) // FRAME_SAMPLES)
    needed = start + spoken + gateway.config.silence_frames + SETTLE_FRAMES
    await wait_until(lambda: gateway.metrics.frames_in >= needed, 20)
