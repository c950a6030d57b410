"""Gateway status (retained, last will) and periodic metrics on MQTT."""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from naila_gateway import Gateway, GatewayConfig
from naila_protocol.mqtt import MqttSettings
from naila_protocol.topics import Topics
from naila_sim import tone

TOPICS = Topics()


async def next_json(client: aiomqtt.Client, within: float = 5.0) -> dict:
    async with asyncio.timeout(within):
        return json.loads((await anext(aiter(client.messages))).payload)


async def test_status_online_retained_then_offline(mqtt_broker) -> None:
    config = GatewayConfig(
        mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port), gateway_id="gw-test"
    )
    gateway = Gateway(config)
    await gateway.start()
    await gateway.mqtt.connected.wait()
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as observer:
        await observer.subscribe(TOPICS.gateway_status, qos=1)
        online = await next_json(observer)
        assert (
            online["online"] is True and online["gateway_id"] == "gw-test" and online["timestamp"]
        )
        await gateway.stop()
        offline = await next_json(observer)
        assert offline["online"] is False and offline["gateway_id"] == "gw-test"


async def test_metrics_count_the_conversation(
    make_gateway, make_device, reply_server, mqtt_broker
) -> None:
    await make_gateway(ai_server_port=reply_server.port, metrics_interval=0.5)
    device = await make_device("lounge")
    await device.wait_connected()
    turn = await device.turn(tone(0.6))
    assert turn.event is not None
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as observer:
        await observer.subscribe(TOPICS.gateway_metrics, qos=0)
        metrics = await next_json(observer)
    assert metrics["sessions"] == 1 and metrics["server_connected"] is True
    assert metrics["utterances"] == 1 and metrics["frames_in"] > 50 and metrics["frames_out"] > 50
    assert metrics["last_first_audio_ms"] == turn.event["first_audio_ms"]
    assert {"cpu_percent", "frames_dropped", "timestamp", "gateway_id"} <= set(metrics)
