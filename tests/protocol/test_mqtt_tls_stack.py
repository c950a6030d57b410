"""Every component on a locked-down broker (TLS only, client certificates required, passwords,
no anonymous clients): the simulated device, and the demo stack — AI server with vision,
gateway, device — holding a conversation and answering an upload over TLS."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid
from pathlib import Path

import pytest
from PIL import Image

from naila_demo.stack import DemoStack, StackSettings
from naila_protocol.mqtt import Incoming, MqttLink, MqttSettings, unique_client_id
from naila_protocol.topics import Topics
from naila_sim import SimDevice, SimDeviceConfig
from tests.conftest import Broker, synthesize_speech
from tests.protocol.test_mqtt_link import pki, tls_broker
from tests.protocol.tls_certs import PASSWORD, USER, Pki

__all__ = ["pki", "tls_broker"]  # fixtures used below


def tls_files(pki: Pki) -> dict[str, str]:
    return {
        "mqtt_tls_ca_file": str(pki.ca),
        "mqtt_tls_cert_file": str(pki.client_cert),
        "mqtt_tls_key_file": str(pki.client_key),
    }


class Observer:
    """An MQTT client over TLS collecting JSON messages by topic."""

    def __init__(self, broker: Broker, pki: Pki, topics: list[str]) -> None:
        self.messages: dict[str, list[dict[str, object]]] = {}
        self.arrived = asyncio.Event()
        self.link = MqttLink(
            MqttSettings(
                host=broker.host, port=broker.port, username=USER, password=PASSWORD,
                tls_ca_file=str(pki.ca), tls_cert_file=str(pki.client_cert),
                tls_key_file=str(pki.client_key),
            ),
            client_id=unique_client_id("tls-observer"),
            on_message=self._on_message,
            subscriptions=[(topic, 1) for topic in topics],
        )  # fmt: skip

    def _on_message(self, message: Incoming) -> None:
        if message.payload:
            self.messages.setdefault(message.topic, []).append(json.loads(message.payload))
            self.arrived.set()

    async def wait_for(self, topic: str, within: float, **match: object) -> dict[str, object]:
        async with asyncio.timeout(within):
            while True:
                for data in self.messages.get(topic, []):
                    if all(data.get(k) == v for k, v in match.items()):
                        return data
                self.arrived.clear()
                await self.arrived.wait()


async def test_simulated_device_over_tls(tls_broker: Broker, pki: Pki) -> None:
    topics = Topics()
    observer = Observer(tls_broker, pki, [topics.device_status("tls_sim")])
    config = SimDeviceConfig(
        "tls_sim", mqtt_host=tls_broker.host, mqtt_port=tls_broker.port,
        mqtt_username=USER, mqtt_password=PASSWORD, **tls_files(pki),
    )  # fmt: skip
    async with observer.link, SimDevice(config):
        status = await observer.wait_for(topics.device_status("tls_sim"), 15, online=True)
    assert status["device_id"] == "tls_sim"

    no_cert = SimDeviceConfig(
        "tls_sim2", mqtt_host=tls_broker.host, mqtt_port=tls_broker.port,
        mqtt_username=USER, mqtt_password=PASSWORD, mqtt_tls_ca_file=str(pki.ca),
    )  # fmt: skip
    device = SimDevice(no_cert)
    with pytest.raises(TimeoutError):
        await device.start(within=3)
    await device.stop(publish_offline=False)


async def test_demo_stack_over_tls(tls_broker: Broker, pki: Pki, tmp_path: Path) -> None:
    """AI server (vision on), gateway and device all on the TLS broker: a turn and an upload."""
    prefix = f"tls{uuid.uuid4().hex[:6]}"
    topics = Topics(prefix)
    settings = StackSettings(
        out_dir=tmp_path, mqtt_host=tls_broker.host, mqtt_port=tls_broker.port,
        mqtt_username=USER, mqtt_password=PASSWORD, prefix=prefix, **tls_files(pki),
        server_args=["--vision", "--history-turns", "0"], gateway_args=["--reply-timeout", "60"],
    )  # fmt: skip
    observer = Observer(tls_broker, pki, [topics.server_status, topics.upload_reply("tls_up")])
    async with observer.link, DemoStack(settings) as stack:
        await observer.wait_for(topics.server_status, 30, online=True)
        config = stack.device_config("tls_kitchen")
        config.loopback = True
        async with SimDevice(config) as device:
            await device.wait_connected(60)
            turn = await device.turn(synthesize_speech("what time is it", 48000), within=90)
            assert turn.first_audio_ms is not None and turn.event is not None
        picture = io.BytesIO()
        Image.new("RGB", (160, 120), (90, 140, 200)).save(picture, "JPEG")
        upload = {"format": "jpeg", "data": base64.b64encode(picture.getvalue()).decode()}
        await observer.link.publish_and_wait(
            topics.upload("tls_up", "image"), json.dumps(upload).encode()
        )
        reply = await observer.wait_for(topics.upload_reply("tls_up"), 60)
        assert reply["status"] == "ok", reply
