"""Signaling: offers, stale/malformed/invalid device messages, reconnects and offline devices."""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from naila_protocol.topics import Topics
from naila_sim import tone
from tests.gateway.conftest import handled_before_marker
from tests.helpers import wait_for_session, wait_until

TOPICS = Topics()


async def test_offer_carries_full_sdp_and_session_id(make_gateway, mqtt_broker) -> None:
    gateway = await make_gateway()
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as ghost:
        await ghost.subscribe(TOPICS.signaling_offer("ghost"), qos=1)
        status = {"device_id": "ghost", "online": True, "capabilities": ["audio"]}
        await ghost.publish(TOPICS.device_status("ghost"), json.dumps(status), qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(ghost.messages))
    offer = json.loads(message.payload)
    assert offer["type"] == "offer" and offer["session_id"] == gateway.sessions["ghost"].session_id
    assert "a=candidate:" in offer["sdp"] and "opus/48000" in offer["sdp"]
    assert not message.retain


async def test_no_session_without_audio_or_camera(make_gateway, mqtt_broker) -> None:
    gateway = await make_gateway()
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        status = {"device_id": "screen", "online": True, "capabilities": ["display"]}
        await client.publish(TOPICS.device_status("screen"), json.dumps(status), qos=1)
        await handled_before_marker(gateway, client, ["screen"])
    assert "screen" not in gateway.sessions


async def test_bad_messages_leave_other_sessions_alone(
    make_gateway, make_device, reply_server, mqtt_broker
) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("living_room")
    await device.wait_connected()
    good = await wait_for_session(gateway, "living_room")

    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as ghost:
        await ghost.subscribe(TOPICS.signaling_offer("ghost"), qos=1)
        status = {"device_id": "ghost", "online": True, "capabilities": ["audio"]}
        await ghost.publish(TOPICS.device_status("ghost"), json.dumps(status), qos=1)
        async with asyncio.timeout(10):
            offer = json.loads((await anext(aiter(ghost.messages))).payload)
        sid = offer["session_id"]
        bad = [
            (TOPICS.signaling_answer("ghost"), b"{not json"),
            (TOPICS.signaling_answer("ghost"), b"[1, 2]"),
            (
                TOPICS.signaling_answer("ghost"),
                json.dumps({"type": "answer", "sdp": "v=0\r\nnonsense", "session_id": sid}),
            ),
            (
                TOPICS.signaling_answer("ghost"),
                json.dumps({"type": "answer", "sdp": offer["sdp"], "session_id": "old"}),
            ),
            (
                TOPICS.signaling_answer("ghost"),
                json.dumps({"type": "answer", "sdp": 5, "session_id": sid}),
            ),
            (
                TOPICS.signaling_ice("ghost"),
                json.dumps({"candidate": "candidate:garbage", "session_id": sid}),
            ),
            (TOPICS.signaling_ice("ghost"), json.dumps({"candidate": 7, "session_id": sid})),
            (
                TOPICS.signaling_ice("living_room"),
                json.dumps(
                    {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host", "session_id": "stale"}
                ),
            ),
            (
                TOPICS.signaling_answer("living_room"),
                json.dumps({"type": "answer", "sdp": offer["sdp"], "session_id": "stale"}),
            ),
            (TOPICS.device_status("ghost2"), b"\xff\xfe"),
            (
                TOPICS.device_status("ghost3"),
                json.dumps({"online": "yes", "capabilities": ["audio"]}),
            ),
            (
                TOPICS.device_status("ghost4"),
                json.dumps({"device_id": "living_room", "online": False}),
            ),
            (
                TOPICS.device_status("x" * 65),
                json.dumps({"online": True, "capabilities": ["audio"]}),
            ),
            (
                TOPICS.device_status("bad id"),
                json.dumps({"online": True, "capabilities": ["audio"]}),
            ),
            (TOPICS.device_command("living_room"), b'{"command": "self_destruct"}'),
            (TOPICS.device_command("living_room"), b'{"command": "announce", "message": ""}'),
        ]
        for topic, payload in bad:
            await ghost.publish(topic, payload, qos=1)
        touched = {gateway.topics.parse_device_topic(topic) for topic, _payload in bad}
        await handled_before_marker(
            gateway, ghost, sorted({d for d, _leaf in filter(None, touched)})
        )
    await wait_until(lambda: len([e for e in device.events if e["event"] == "error"]) >= 2)

    assert gateway.sessions["living_room"] is good and good.state == "connected"
    assert gateway.sessions["ghost"].session_id == sid and not gateway.sessions["ghost"].answered
    assert set(gateway.sessions) == {"living_room", "ghost", "marker"}
    errors = [e for e in device.events if e["event"] == "error"]
    assert [e["code"] for e in errors] == ["bad_command", "bad_command"]
    turn = await device.turn(tone(0.6))
    assert turn.first_audio_ms is not None and turn.event is not None


async def test_device_reconnect_replaces_session(make_gateway, make_device, reply_server) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("bedroom")
    await device.wait_connected()
    old = await wait_for_session(gateway, "bedroom")

    await device.set_online(True)  # a fresh status: the device restarted
    await device.wait_connected()
    new = await wait_for_session(gateway, "bedroom")

    assert new is not old and new.session_id != old.session_id
    assert old.pc.connectionState == "closed"
    await device.wait_event("session_closed", session_id=old.session_id)
    turn = await device.turn(tone(0.6))
    assert turn.first_audio_ms is not None


async def test_offline_status_closes_session(make_gateway, make_device) -> None:
    gateway = await make_gateway()
    device = await make_device("garage")
    await device.wait_connected()
    session = await wait_for_session(gateway, "garage")

    await device.set_online(False)

    await device.wait_event("session_closed", session_id=session.session_id)
    assert "garage" not in gateway.sessions and session.pc.connectionState == "closed"
