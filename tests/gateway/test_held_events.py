"""A device event published while the broker is away reaches the device after the restart,
also when the gateway reconnects first (a real mosquitto restart; raw MQTT devices whose
reconnects the test orders)."""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from naila_gateway.held_events import RELEASE_AFTER_S, HeldEvents
from naila_protocol.topics import Topics
from tests.conftest import Broker
from tests.helpers import wait_until

TOPICS = Topics()


def status(device_id: str) -> bytes:
    return json.dumps({"device_id": device_id, "online": True, "capabilities": ["audio"]}).encode()


async def next_event(client: aiomqtt.Client, within: float) -> dict[str, object]:
    async with asyncio.timeout(within):
        async for message in client.messages:
            return dict(json.loads(bytes(message.payload)))
    raise AssertionError("no message")


async def test_events_wait_for_their_device_after_a_broker_restart(
    make_gateway, reply_server, mqtt_broker: Broker
) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    broker = (mqtt_broker.host, mqtt_broker.port)
    for device_id in ("hall", "quiet"):  # known to the gateway (a session is offered)
        async with aiomqtt.Client(*broker) as device:
            await device.publish(TOPICS.device_status(device_id), status(device_id), retain=True)
    await wait_until(lambda: {"hall", "quiet"} <= set(gateway.sessions), 10)

    await asyncio.to_thread(mqtt_broker.stop)
    await wait_until(lambda: not gateway.mqtt.connected.is_set(), 10)
    gateway.publish_event("hall", "server_unavailable", request_id="req_probe")
    gateway.publish_event("quiet", "server_unavailable", request_id="req_quiet")
    await asyncio.to_thread(mqtt_broker.start)
    # MqttLink sends what it held itself before it reports the connection
    await wait_until(gateway.mqtt.connected.is_set, 15)

    # the device is back later: it subscribes, then announces itself
    async with aiomqtt.Client(*broker) as device:
        await device.subscribe(TOPICS.device_events("hall"), qos=1)
        await device.publish(TOPICS.device_status("hall"), status("hall"), qos=1, retain=True)
        event = await next_event(device, 5)
    assert (event["event"], event["request_id"]) == ("server_unavailable", "req_probe")

    # a device that does not announce itself gets its events after RELEASE_AFTER_S
    async with aiomqtt.Client(*broker) as quiet:
        await quiet.subscribe(TOPICS.device_events("quiet"), qos=1)
        event = await next_event(quiet, RELEASE_AFTER_S + 10)
    assert event["request_id"] == "req_quiet"
    assert not gateway.held_events.holds("hall") and not gateway.held_events.holds("quiet")


def test_held_events_are_bounded_and_kept_in_order() -> None:
    held = HeldEvents(limit=3)
    assert held.holds("a")  # before the first connection
    for n in range(5):
        held.add("a", f"{n}".encode())
    held.link_up(["b"])
    assert held.holds("a") and held.holds("b") and not held.holds("c")
    assert held.device_back("a") == [b"2", b"3", b"4"]
    assert not held.holds("a") and held.device_back("a") == []
    held.add("b", b"x")
    held.link_down()
    assert held.device_back("b") == []  # nothing is sent while the link is down
    held.link_up([])
    assert held.release_all() == {"b": [b"x"]} and not held.holds("b")
