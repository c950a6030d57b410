"""The server's one MQTT link: status back after a broker restart, unique client ids, vision
on the same connection."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import aiomqtt
import cv2
import numpy as np

from naila_protocol.mqtt import MqttSettings
from naila_protocol.topics import Topics
from tests.conftest import Broker
from tests.server.conftest import ServerFactory
from wyoming_bridge.settings import ServerSettings


async def retained_status(broker: Broker, topic: str, within: float) -> dict:
    """The retained message on `topic` as a new subscriber sees it (polls a fresh client)."""
    deadline = time.monotonic() + within
    while True:
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.subscribe(topic, qos=1)
            try:
                async with asyncio.timeout(0.3):
                    message = await anext(aiter(client.messages))
                    return json.loads(message.payload)  # type: ignore[arg-type]
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        await asyncio.sleep(0.05)  # pacing: between attempts to connect


async def test_status_is_back_within_5_s_after_a_broker_restart(
    make_server: ServerFactory, mqtt_broker: Broker
) -> None:
    mqtt = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port, prefix="rb")
    server = await make_server(settings=ServerSettings(mqtt=mqtt))
    assert server.mqtt is not None
    await asyncio.wait_for(server.mqtt.connected.wait(), 10)
    topic = Topics("rb").server_status
    assert (await retained_status(mqtt_broker, topic, 5))["online"] is True
    await asyncio.to_thread(mqtt_broker.stop)  # no persistence: the retained status is gone
    await asyncio.wait_for(server.mqtt.disconnected.wait(), 10)
    await asyncio.to_thread(mqtt_broker.start)
    restarted = time.monotonic()
    status = await retained_status(mqtt_broker, topic, 5)
    assert status["online"] is True and time.monotonic() - restarted < 5
    assert server.mqtt.link.connections == 2


async def test_two_servers_on_the_default_id_both_stay_connected(
    make_server: ServerFactory, mqtt_broker: Broker
) -> None:
    mqtt = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port)
    first = await make_server(settings=ServerSettings(mqtt=mqtt))
    second = await make_server(settings=ServerSettings(mqtt=mqtt))
    assert first.mqtt is not None and second.mqtt is not None
    for server in (first, second):
        await asyncio.wait_for(server.mqtt.connected.wait(), 10)
    assert first.mqtt.link.client_id != second.mqtt.link.client_id
    # a broker drops the older client of a duplicate id at once: neither may go down
    lost = [asyncio.create_task(s.mqtt.disconnected.wait()) for s in (first, second)]
    done, pending = await asyncio.wait(lost, timeout=1.0)
    for task in pending:
        task.cancel()
    assert not done
    assert (first.mqtt.link.connections, second.mqtt.link.connections) == (1, 1)


async def test_vision_answers_uploads_on_the_servers_own_connection(
    make_server: ServerFactory, mqtt_broker: Broker
) -> None:
    mqtt = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port, prefix="vz")
    server = await make_server(settings=ServerSettings(mqtt=mqtt, server_id="vz1"), vision=True)
    assert server.vision is not None and server.mqtt is not None
    assert server.vision.config.prefix == "vz" and server.vision.config.server_id == "vz1"
    await asyncio.wait_for(server.vision.ready.wait(), 10)
    topics = Topics("vz")
    image = np.full((120, 160, 3), 200, np.uint8)
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    body = {"format": "jpeg", "data": base64.b64encode(jpeg).decode()}
    async with aiomqtt.Client(
        mqtt_broker.host, mqtt_broker.port, protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        await client.subscribe(topics.upload_reply("s1"), qos=1)
        await client.publish(topics.upload("s1", "image"), json.dumps(body), qos=1)
        async with asyncio.timeout(60):
            reply = json.loads((await anext(aiter(client.messages))).payload)  # type: ignore[arg-type]
    assert reply["status"] == "ok" and reply["session_id"] == "s1"
    status = await retained_status(mqtt_broker, topics.server_status, 5)
    assert "vision" in status["services"] and server.mqtt.link.connections == 1
