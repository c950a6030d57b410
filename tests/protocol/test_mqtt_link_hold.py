"""Messages published with hold=True while the broker is away arrive after the reconnect, in
order; the others are dropped as before (a real mosquitto restart)."""

from __future__ import annotations

import asyncio

from naila_protocol.mqtt import HELD_LIMIT, Incoming, MqttLink, MqttSettings, unique_client_id
from tests.conftest import Broker


async def test_held_messages_survive_a_broker_restart(mqtt_broker: Broker) -> None:
    settings = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port)
    got: list[bytes] = []
    arrived = asyncio.Event()

    def inbox(message: Incoming) -> None:
        got.append(message.payload)
        arrived.set()

    # a slow reconnect, so the subscriber below is back first
    publisher = MqttLink(
        settings, client_id=unique_client_id("holder"), on_message=lambda _m: None,
        backoff_initial=2.0, backoff_max=2.0,
    )  # fmt: skip
    async with publisher:
        await asyncio.wait_for(publisher.connected.wait(), 15)
        mqtt_broker.stop()
        await asyncio.wait_for(publisher.disconnected.wait(), 15)
        publisher.publish("t/hold/events", b"kept-1", hold=True)
        publisher.publish("t/hold/events", b"dropped")
        publisher.publish("t/hold/events", b"kept-2", hold=True)
        mqtt_broker.start()
        async with MqttLink(
            settings, client_id=unique_client_id("reader"), on_message=inbox,
            subscriptions=[("t/hold/events", 1)],
        ) as reader:  # fmt: skip
            await asyncio.wait_for(reader.connected.wait(), 15)
            async with asyncio.timeout(20):
                while len(got) < 2:
                    arrived.clear()
                    await arrived.wait()
            # a marker after them on the same connection: had "dropped" been sent, it came first
            publisher.publish("t/hold/events", b"marker")
            async with asyncio.timeout(20):
                while got[-1] != b"marker":
                    arrived.clear()
                    await arrived.wait()
    assert got == [b"kept-1", b"kept-2", b"marker"]
    assert HELD_LIMIT >= 100
