"""Partial transcripts: the AI server's PARTIAL frames become `transcript` device events.

Real aiortc device and gateway, real mosquitto, the framing reply server answering PARTIAL
subscriptions at each pause. Push-to-talk holds the utterance open across the pause, so the
partial surely arrives while it is still spoken (no timing assumption).
"""

from __future__ import annotations

import logging

from naila_protocol.commands import CommandMessage
from naila_protocol.framing import FrameKind
from naila_protocol.vocab import DeviceCommand, ListeningMode
from naila_sim import tone
from tests.helpers import wait_until


async def _talk(device, name: DeviceCommand) -> None:
    await device.publish_raw("command", CommandMessage(name).to_json())


async def test_partial_transcript_is_a_device_event_then_the_final_reply(
    make_gateway, make_device, reply_server
) -> None:
    reply_server.partial = "turn on the"
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("den", listening_mode=ListeningMode.PUSH_TO_TALK)
    await device.wait_connected()

    await _talk(device, DeviceCommand.TALK_START)
    await device.wait_event("state", state="listening")
    await device.say(tone(0.8))  # then silence while the button is held: a pause
    partial = await device.wait_event("transcript", within=20)
    await _talk(device, DeviceCommand.TALK_END)
    reply = await device.wait_event("reply", within=20)

    assert partial["final"] is False and partial["text"] == "turn on the"
    assert partial["request_id"] == reply["request_id"]
    assert partial["audio_ms"] >= 800  # the tone and what came before it
    assert set(partial) == {"event", "device_id", "timestamp", "request_id", "text", "final", "audio_ms"}  # fmt: skip
    assert reply["transcript"] == "(tone)"  # the final transcript: the reply's own
    names = [e["event"] for e in device.events]
    assert names.index("transcript") < names.index("utterance") < names.index("reply")
    subscriptions = reply_server.requests(FrameKind.PARTIAL)
    assert [f.request_id for f in subscriptions] == [reply["request_id"]]
    assert not subscriptions[0].payload


async def test_bad_partial_body_is_logged_and_the_turn_goes_on(
    make_gateway, make_device, reply_server, caplog
) -> None:
    reply_server.partial = b'{"text": 3}'
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("hall", listening_mode=ListeningMode.PUSH_TO_TALK)
    await device.wait_connected()

    await _talk(device, DeviceCommand.TALK_START)
    await device.wait_event("state", state="listening")
    await device.say(tone(0.8))
    await wait_until(lambda: reply_server.partials_sent >= 1, within=20)
    await _talk(device, DeviceCommand.TALK_END)
    reply = await device.wait_event("reply", within=20)  # the partial came before its reply

    assert reply["transcript"] == "(tone)"
    assert not [e for e in device.events if e["event"] == "transcript"]
    warnings = [r for r in caplog.records if "malformed PARTIAL" in r.getMessage()]
    assert len(warnings) == reply_server.partials_sent
    assert all(r.levelno == logging.WARNING for r in warnings)
