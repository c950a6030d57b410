"""Outages: AI server down/restarted, broker restarted, reply timeout; two devices at once."""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from naila_protocol.framing import FrameKind
from naila_protocol.topics import Topics
from naila_sim import tone
from tests.gateway.reply_server import ReplyServer
from tests.helpers import wait_for_session, wait_until


async def test_ai_server_killed_and_restarted(make_gateway, make_device, reply_server) -> None:
    reply_server.reply_seconds, reply_server.pace = 4.0, 1.0
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("study")
    await device.wait_connected()
    session = await wait_for_session(gateway, "study")
    await gateway.server.wait_connected()

    await device.turn(tone(0.6), wait_reply=False)
    request_id = (await device.wait_event("utterance"))["request_id"]
    await reply_server.stop()  # dies mid-reply
    await device.wait_event("server_unavailable", request_id=request_id)

    before = len(device.events)
    await device.say(tone(0.6))  # during the outage: dropped, device told
    dropped = await device.wait_event("server_unavailable", since=before)
    assert dropped["request_id"] != request_id

    restarted = ReplyServer(port=reply_server.port)
    await restarted.start()
    try:
        await asyncio.wait_for(gateway.server.wait_connected(), 10)
        turn = await device.turn(tone(0.6))
        assert turn.first_audio_ms is not None and turn.event is not None
        assert gateway.sessions["study"] is session
    finally:
        await restarted.stop()


async def test_broker_restart_keeps_sessions(
    make_gateway, make_device, reply_server, mqtt_broker
) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("attic")
    await device.wait_connected()
    session = await wait_for_session(gateway, "attic")

    await asyncio.to_thread(mqtt_broker.stop)
    await asyncio.sleep(0.5)  # pacing: the broker stays away a moment
    await asyncio.to_thread(mqtt_broker.start)
    await wait_until(lambda: gateway.mqtt.connections >= 2 and gateway.mqtt.connected.is_set(), 15)

    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as observer:
        await observer.subscribe(Topics().gateway_status, qos=1)
        async with asyncio.timeout(5):
            status = json.loads((await anext(aiter(observer.messages))).payload)
    assert status["online"] is True
    # the device reconnects and republishes its (identical) status; a marker status sent
    # after it on the device's connection shows the gateway has handled it
    await wait_until(lambda: device.link.connections >= 2 and device.link.connected.is_set(), 15)
    marker = {"device_id": "marker", "online": True, "capabilities": ["audio"]}
    await device.publish_raw("status", json.dumps(marker).encode(), device_id="marker")
    await wait_until(lambda: "marker" in gateway.sessions)
    async with gateway.device_turn("attic"):
        pass
    assert gateway.sessions["attic"] is session and session.state == "connected"
    before = len(device.events)
    turn = await device.turn(tone(0.6))
    assert turn.first_audio_ms is not None
    await device.wait_event("reply", since=before)  # events reach the device over the new broker


async def test_reply_timeout_tells_device(make_gateway, make_device, reply_server) -> None:
    reply_server.first_delay = 30.0  # never answers in time
    await make_gateway(ai_server_port=reply_server.port, reply_timeout=1.0)
    device = await make_device("cellar")
    await device.wait_connected()

    await device.say(tone(0.6))

    utterance = await device.wait_event("utterance")
    await device.wait_event("reply_timeout", request_id=utterance["request_id"], within=5)


async def test_two_devices_at_once(make_gateway, make_device, reply_server) -> None:
    await make_gateway(ai_server_port=reply_server.port)
    left, right = await make_device("left"), await make_device("right")
    await asyncio.gather(left.wait_connected(), right.wait_connected())

    turns = await asyncio.gather(left.turn(tone(0.8, 300)), right.turn(tone(1.2, 500)))

    assert all(t.first_audio_ms is not None and t.event is not None for t in turns)
    finals = {f.device_id: f.request_id for f in reply_server.requests(FrameKind.FINAL)}
    assert finals == {"left": turns[0].event["request_id"], "right": turns[1].event["request_id"]}
    assert turns[0].event["device_id"] == "left" and turns[1].event["device_id"] == "right"


async def test_server_reconnect_mid_utterance_resends_it_whole(
    make_gateway, make_device, reply_server
) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("hallway")
    await device.wait_connected()
    await gateway.server.wait_connected()

    speaking = asyncio.create_task(device.turn(tone(2.5)))
    # chunks of this utterance are on the old connection
    await wait_until(lambda: len(reply_server.requests(FrameKind.CHUNK)) >= 2)
    await reply_server.stop()
    restarted = ReplyServer(port=reply_server.port)
    await restarted.start()
    try:
        turn = await speaking
        assert turn.event is not None and turn.first_audio_ms is not None
        (final,) = restarted.requests(FrameKind.FINAL)
        assert not restarted.requests(FrameKind.CHUNK)
        assert 2.5 <= len(final.payload) / 2 / 16000 <= 2.5 + 0.3 + 0.4
        assert turn.event["request_id"] == final.request_id
    finally:
        await restarted.stop()


async def test_auth_token(make_gateway, make_device) -> None:
    server = ReplyServer(token="s3cret")
    await server.start()
    try:
        wrong = await make_gateway(
            ai_server_port=server.port, ai_server_token="guess", gateway_id="wrong"
        )
        right = await make_gateway(
            ai_server_port=server.port, ai_server_token="s3cret", gateway_id="right"
        )
        await asyncio.wait_for(right.server.wait_connected(), 5)
        await wait_until(lambda: b"guess" in server.refused, 5)
        assert not wrong.server.connected and server.connections >= 2
    finally:
        await server.stop()


async def test_one_device_vanishing_does_not_disturb_another(
    make_gateway, make_device, reply_server
) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    steady, flaky = await make_device("steady"), await make_device("flaky")
    await asyncio.gather(steady.wait_connected(), flaky.wait_connected())
    steady_session = await wait_for_session(gateway, "steady")
    flaky_session = await wait_for_session(gateway, "flaky")

    talking = asyncio.create_task(steady.turn(tone(1.0)))
    await wait_until(  # steady is mid-utterance
        lambda: any(f.device_id == "steady" for f in reply_server.requests(FrameKind.CHUNK))
    )
    await flaky.pc.close()  # media gone without any MQTT message

    turn = await talking
    assert turn.first_audio_ms is not None and turn.event is not None
    await flaky.wait_event("session_closed", session_id=flaky_session.session_id, within=40)
    assert flaky_session.pc.connectionState == "closed"
    assert gateway.sessions["steady"] is steady_session and steady_session.state == "connected"
    # still online on MQTT: the gateway offers again and the device is back
    await flaky.wait_connected(within=15)
    again = await wait_for_session(gateway, "flaky")
    assert again.session_id != flaky_session.session_id


async def test_session_ending_mid_request_tells_the_device(
    make_gateway, make_device, reply_server
) -> None:
    """A request in flight when the device's session ends is reported, not silently lost."""
    reply_server.first_delay = 30.0  # the server is still thinking when the media goes
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("hallway")
    await device.wait_connected()
    await wait_for_session(gateway, "hallway")
    await gateway.server.wait_connected()
    await device.say(tone(0.6))
    request_id = (await device.wait_event("utterance"))["request_id"]
    assert device.pc is not None
    await device.pc.close()  # media gone without any MQTT message
    event = await device.wait_event("interrupted", request_id=request_id, within=40)
    assert event["reason"] == "session_closed"
    await wait_until(lambda: request_id in reply_server.cancelled)


async def test_session_ending_mid_utterance_tells_the_device(
    make_gateway, make_device, reply_server
) -> None:
    """Speech cut off by the session's end (nothing sent to the server yet) is reported too."""
    gateway = await make_gateway(ai_server_port=reply_server.port + 1)  # no server: nothing sent
    device = await make_device("porch")
    await device.wait_connected()
    await wait_for_session(gateway, "porch")
    device.mic.queue(tone(3.0))
    await device.wait_event("state", state="listening")  # mid-utterance
    assert device.pc is not None
    await device.pc.close()
    event = await device.wait_event("interrupted", within=40)
    assert event["reason"] == "session_closed" and event["request_id"]
