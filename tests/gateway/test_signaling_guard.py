"""Signaling that names another device is dropped; one device's flood is limited, others go on."""

from __future__ import annotations

import json

import aiomqtt
import pytest

from naila_gateway.signaling import BadMessage, parse_answer, parse_command, parse_ice
from naila_gateway.signaling_limit import SignalingLimiter, TokenBucket
from naila_protocol.topics import Topics
from naila_sim import tone
from tests.helpers import wait_for_session

TOPICS = Topics()
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"


@pytest.mark.parametrize(
    ("parse", "payload"),
    [
        (parse_answer, {"type": "answer", "sdp": SDP, "session_id": "s1"}),
        (parse_ice, {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "session_id": "s1"}),
        (parse_command, {"command": "stop"}),
    ],
    ids=["answer", "ice", "command"],
)
def test_payload_naming_another_device_is_refused(parse, payload) -> None:
    parse(json.dumps(payload).encode(), "kitchen")  # no device_id: fine
    parse(json.dumps({**payload, "device_id": "kitchen"}).encode(), "kitchen")
    with pytest.raises(BadMessage, match="'hall' on the topic of 'kitchen'"):
        parse(json.dumps({**payload, "device_id": "hall"}).encode(), "kitchen")


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.4)
    assert bucket.take(0.5)  # 0.5 s x 2/s = one token
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]  # capped at burst


def test_limiter_is_per_device_and_warns_once_per_burst(caplog) -> None:
    limiter = SignalingLimiter(rate=1.0, burst=2)
    assert [limiter.allow("noisy", 0.0) for _ in range(5)] == [True, True, False, False, False]
    assert limiter.allow("quiet", 0.0)
    assert limiter.dropped == 3
    warnings = [r for r in caplog.records if "dropping" in r.getMessage()]
    assert len(warnings) == 1 and "noisy" in warnings[0].getMessage()
    assert limiter.allow("noisy", 1.5)
    assert SignalingLimiter(rate=0, burst=1).allow("any", 0.0)  # 0 = no limit


async def test_flood_from_one_device_leaves_others_alone(
    make_gateway, make_device, reply_server, mqtt_broker
) -> None:
    gateway = await make_gateway(
        ai_server_port=reply_server.port, signaling_rate=5.0, signaling_burst=10
    )
    device = await make_device("living_room")
    await device.wait_connected()
    good = await wait_for_session(gateway, "living_room")

    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as flooder:
        status = json.dumps({"device_id": "flood", "online": True, "capabilities": ["audio"]})
        for _ in range(300):
            await flooder.publish(TOPICS.device_status("flood"), status, qos=1)
        # The device's own messages keep flowing: a whole turn after the flood.
        turn = await device.turn(tone(0.6))

    assert turn.first_audio_ms is not None and turn.event is not None
    assert gateway.signaling_limit.dropped >= 250
    assert gateway.sessions["living_room"] is good and good.state == "connected"
