"""The generated ACL on a real mosquitto: a device cannot speak or listen for another device."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest

from naila_protocol.acl import main, render_acl
from naila_protocol.topics import Topics
from tests.conftest import Broker, _wait_for_port, free_port

T = Topics()
USERS = ("kitchen", "hall", "naila_gateway", "naila_server", "homeassistant")


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[Broker]:
    passwords = tmp_path / "passwords"
    for index, user in enumerate(USERS):
        create = ["-c"] if index == 0 else []
        subprocess.run(
            ["mosquitto_passwd", "-b", *create, str(passwords), user, f"pw-{user}"], check=True
        )
    acl = tmp_path / "naila.acl"
    acl.write_text(render_acl(["kitchen", "hall"]))
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
        f"acl_file {acl}\npersistence false\nset_tcp_nodelay true\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    broker = Broker("127.0.0.1", port, subprocess.Popen(["mosquitto", "-c", str(config)]), config)
    _wait_for_port(broker.host, port)
    yield broker
    broker.stop()


def client(broker: Broker, user: str) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, username=user, password=f"pw-{user}")


async def received(subscriber: aiomqtt.Client, until_topic: str) -> list[str]:
    """Topics that arrive up to and including `until_topic` (a positive control)."""
    topics: list[str] = []
    async with asyncio.timeout(10):
        async for message in subscriber.messages:
            topics.append(str(message.topic))
            if str(message.topic) == until_topic:
                return topics
    raise AssertionError("unreachable")


@pytest.fixture
async def gateway(acl_broker: Broker) -> AsyncIterator[aiomqtt.Client]:
    async with client(acl_broker, "naila_gateway") as gw:
        yield gw


async def test_device_cannot_publish_for_another_device(
    acl_broker: Broker, gateway: aiomqtt.Client
) -> None:
    await gateway.subscribe(T.device_wildcard("status"), qos=1)
    await gateway.subscribe(T.device_wildcard("signaling/answer"), qos=1)
    async with client(acl_broker, "kitchen") as kitchen:
        await kitchen.publish(T.device_status("hall"), b'{"online": true}', qos=1)
        await kitchen.publish(T.signaling_answer("hall"), b"{}", qos=1)
        await kitchen.publish(T.device_status("kitchen"), b'{"online": true}', qos=1)
        topics = await received(gateway, T.device_status("kitchen"))
    assert topics == [T.device_status("kitchen")]


async def test_device_cannot_listen_to_another_device(
    acl_broker: Broker, gateway: aiomqtt.Client
) -> None:
    async with client(acl_broker, "kitchen") as kitchen:
        await kitchen.subscribe(T.signaling_offer("hall"), qos=1)
        await kitchen.subscribe(T.device_command("hall"), qos=1)
        await kitchen.subscribe(T.device_wildcard("signaling/offer"), qos=1)
        await kitchen.subscribe(T.signaling_offer("kitchen"), qos=1)
        await gateway.publish(T.signaling_offer("hall"), b"{}", qos=1)
        await gateway.publish(T.signaling_offer("kitchen"), b"{}", qos=1)
        topics = await received(kitchen, T.signaling_offer("kitchen"))
    # The kitchen's own offer arrives (once per matching subscription), the hall's never.
    assert set(topics) == {T.signaling_offer("kitchen")}


async def test_services_can_do_their_jobs(acl_broker: Broker, gateway: aiomqtt.Client) -> None:
    async with (
        client(acl_broker, "hall") as hall,
        client(acl_broker, "naila_server") as server,
        client(acl_broker, "homeassistant") as ha,
    ):
        await hall.subscribe(T.signaling_offer("hall"), qos=1)
        await hall.subscribe(T.device_command("hall"), qos=1)
        await server.subscribe(T.conversation_response_wildcard, qos=1)
        await ha.subscribe(T.conversation_request, qos=1)
        await gateway.subscribe(T.device_wildcard("signaling/answer"), qos=1)

        await gateway.publish(T.signaling_offer("hall"), b"{}", qos=1)
        await ha.publish(T.device_command("hall"), b"{}", qos=1)
        assert await received(hall, T.device_command("hall")) == [
            T.signaling_offer("hall"),
            T.device_command("hall"),
        ]
        await hall.publish(T.signaling_answer("hall"), b"{}", qos=1)
        assert await received(gateway, T.signaling_answer("hall")) == [T.signaling_answer("hall")]
        await server.publish(T.conversation_request, b"{}", qos=1)
        assert await received(ha, T.conversation_request) == [T.conversation_request]
        # The gateway may not answer conversation requests in Home Assistant's place.
        await gateway.publish(T.conversation_response("r1"), b"{}", qos=1)
        await ha.publish(T.conversation_response("r2"), b"{}", qos=1)
        assert await received(server, T.conversation_response("r2")) == [
            T.conversation_response("r2")
        ]


def test_bad_device_ids_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("a/b", "+", "#", "naila_gateway", ""):
        with pytest.raises(ValueError):
            render_acl([bad])
    assert main(["--device", "kitchen", "--prefix", "home/naila"]) == 0
    text = capsys.readouterr().out
    assert "user kitchen\n" in text
    assert "topic write home/naila/devices/kitchen/status" in text
    assert "devices/+/status" not in text.split("user kitchen")[1]
