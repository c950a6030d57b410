"""Voice through the gateway: utterance in, reply heard; barge-in; basic mode; announce/stop."""

from __future__ import annotations

import asyncio

from naila_protocol.framing import FrameKind
from naila_sim import speak_text, tone
from tests.helpers import wait_for_session, wait_until


async def test_utterance_in_reply_heard(make_gateway, make_device, reply_server) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("kitchen")
    await device.wait_connected()
    await gateway.server.wait_connected()

    turn = await device.turn(tone(1.0))

    assert turn.first_audio_ms is not None and turn.first_audio_ms < 2000
    assert turn.event is not None and turn.event["transcript"] == "(tone)"
    assert turn.event["first_audio_ms"] > 0
    parts = turn.event["gateway_timings"]
    # The 15-frame (300 ms) silence hang-over, in wall time: frames arrive late on a loaded
    # machine, so only the lower bound is exact (the hang-over is counted in frames).
    assert 250 <= parts["end_of_speech_ms"] < 2000
    assert parts["server_ms"] >= reply_server.first_delay * 1000
    assert 0 <= parts["playout_ms"] < 1000  # first reply frame queued -> sent
    chunks = reply_server.requests(FrameKind.CHUNK)
    finals = reply_server.requests(FrameKind.FINAL)
    assert chunks and len(finals) == 1
    assert {f.request_id for f in chunks} == {finals[0].request_id}
    sent = sum(len(f.payload) for f in [*chunks, *finals]) / 2 / 16000
    assert 1.0 <= sent <= 1.0 + 0.3 + 0.3 + 0.1  # speech + pre-roll + hang-over
    end = await device.recorder.wait_quiet(turn.first_audio_index)
    assert 0.8 <= device.recorder.voiced_seconds(turn.first_audio_index, end) <= 1.2


async def test_basic_protocol_mode(make_gateway, make_device, reply_server) -> None:
    await make_gateway(ai_server_port=reply_server.port, ai_server_protocol="basic")
    device = await make_device("hall")
    await device.wait_connected()

    turn = await device.turn(tone(0.8))

    assert turn.first_audio_ms is not None
    basic = reply_server.requests(FrameKind.BASIC)
    assert len(basic) == 1 and not reply_server.requests(FrameKind.CHUNK)
    assert turn.event is not None and turn.event["request_id"] == basic[0].request_id


async def test_barge_in_stops_output_within_a_frame(
    make_gateway, make_device, reply_server
) -> None:
    reply_server.reply_seconds = 6.0
    reply_server.pace = 1.0  # still streaming when the user talks over it
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("office")
    await device.wait_connected()
    session = await wait_for_session(gateway, "office")

    await device.turn(tone(0.8), wait_reply=False)
    utterance = await device.wait_event("utterance")
    await asyncio.sleep(0.5)  # the long reply is playing
    assert session.voice.reply_active()
    events_before = len(device.events)
    mark = device.recorder.mark()
    speaking = asyncio.create_task(device.say(tone(0.8, frequency=600)))
    interrupted = await device.wait_event("interrupted", since=events_before)
    track = session.voice.track
    # gateway side: nothing queued was sent later than one frame after the clear
    assert session.voice.output.cleared_at is not None
    assert track.last_voiced_at is not None
    assert track.last_voiced_at - session.voice.output.cleared_at < 0.02 + 0.005
    assert interrupted["request_id"] == utterance["request_id"]
    assert utterance["request_id"] in reply_server.cancelled
    # device side: the reply tone stops (what it hears next is silence, then the new reply)
    quiet = await device.recorder.wait_quiet(mark, frames=10)
    await speaking
    second = await device.wait_event("reply", since=events_before)
    assert second["request_id"] != utterance["request_id"]
    assert device.recorder.first_voiced(quiet + 10) is not None


async def test_noise_blip_does_not_cancel_an_awaited_reply(
    make_gateway, make_device, reply_server
) -> None:
    reply_server.first_delay = 1.5  # STT + LLM still working when the room makes a noise
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("hall")
    await device.wait_connected()
    session = await wait_for_session(gateway, "hall")

    events_before = len(device.events)
    await device.say(tone(0.8))
    utterance = await device.wait_event("utterance", since=events_before)
    await device.say(tone(0.06, frequency=600))  # a clatter: 3 frames, no utterance
    reply = await device.wait_event("reply", since=events_before, within=10)
    assert reply["request_id"] == utterance["request_id"]
    assert not [e for e in device.events[events_before:] if e.get("event") == "interrupted"]
    assert utterance["request_id"] not in reply_server.cancelled
    assert session.voice.metrics.barge_ins == 0

    # a real follow-up before the next reply is heard still replaces the awaited one
    await wait_until(lambda: not session.voice.reply_active())  # the first reply played out
    events_before = len(device.events)
    await device.say(tone(0.8))
    first = await device.wait_event("utterance", since=events_before)
    await device.say(tone(0.8, frequency=600))
    interrupted = await device.wait_event("interrupted", since=events_before)
    assert interrupted["request_id"] == first["request_id"] and interrupted["reason"] == "barge_in"
    assert first["request_id"] in reply_server.cancelled


async def test_announce_is_spoken(make_gateway, make_device, reply_server) -> None:
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("porch")
    await device.wait_connected()
    mark = device.recorder.mark()

    await device.publish_raw(
        "command", b'{"command": "announce", "message": "Dinner is ready", "request_id": "ann_1"}'
    )

    await device.recorder.wait_voiced(mark, within=5)
    await device.wait_event("announced", request_id="ann_1")
    speak = reply_server.requests(FrameKind.SPEAK)
    assert [f.payload for f in speak] == [b"Dinner is ready"] and speak[0].request_id == "ann_1"


async def test_stop_silences_and_cancels(make_gateway, make_device, reply_server) -> None:
    reply_server.reply_seconds, reply_server.pace = 5.0, 1.0
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("porch")
    await device.wait_connected()
    mark = device.recorder.mark()
    await device.publish_raw(
        "command", b'{"command": "announce", "message": "A long story", "request_id": "ann_2"}'
    )
    await device.recorder.wait_voiced(mark, within=5)

    stop_at = device.recorder.mark()
    await device.publish_raw("command", b'{"command": "stop"}')

    await device.wait_event("interrupted", reason="stop", request_id="ann_2")
    await device.recorder.wait_quiet(stop_at, frames=10, within=2)
    assert device.recorder.voiced_seconds(stop_at) < 0.3
    assert "ann_2" in reply_server.cancelled


async def test_silero_vad_mode(make_gateway, make_device, reply_server) -> None:
    await make_gateway(ai_server_port=reply_server.port, vad_mode="silero")
    device = await make_device("nursery")
    await device.wait_connected()

    turn = await device.turn(speak_text("Turn on the lights in the kitchen please."))

    assert turn.event is not None and turn.first_audio_ms is not None
    (final,) = reply_server.requests(FrameKind.FINAL)
    spoken = (
        sum(len(f.payload) for f in reply_server.received if f.request_id == final.request_id)
        / 2
        / 16000
    )
    assert 1.5 < spoken < 4.5
