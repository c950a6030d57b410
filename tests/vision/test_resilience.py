"""The service survives a broker restart and keeps serving."""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from tests.helpers import wait_until
from wyoming_bridge.vision.analysis import Analyzer
from wyoming_bridge.vision.config import VisionConfig
from wyoming_bridge.vision.service import VisionService

from .conftest import b64, next_json


async def test_broker_restart(mqtt_broker, analyzer: Analyzer, photos) -> None:
    svc = VisionService(VisionConfig(prefix="rs"), analyzer)
    task = asyncio.create_task(svc.run(mqtt_broker.host, mqtt_broker.port, reconnect_delay=0.2))
    try:
        await asyncio.wait_for(svc.ready.wait(), 10)
        mqtt_broker.stop()
        await wait_until(lambda: not svc.ready.is_set())
        mqtt_broker.start()
        await asyncio.wait_for(svc.ready.wait(), 20)
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
            await client.subscribe(svc.topics.upload_reply("after"), qos=1)
            body = {"format": "jpeg", "data": b64(photos["zidane.jpg"])}
            await client.publish(svc.topics.upload("after", "image"), json.dumps(body), qos=1)
            _topic, reply = await next_json(client, wait=60)
        assert reply["status"] == "ok"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await svc.close()
