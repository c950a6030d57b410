"""Listening modes through real aiortc peers: always, push-to-talk, wake_word without the word;
settings and commands switch modes; announcements end when they finished playing; device states."""

from __future__ import annotations

import itertools
import time

from naila_gateway.listening import ListeningSettings
from naila_gateway.sounds import sound_pcm
from naila_protocol.commands import CommandMessage
from naila_protocol.framing import FrameKind
from naila_protocol.payloads import DeviceSettings
from naila_protocol.vocab import DeviceCommand, ListeningMode, Sound
from naila_sim import tone
from tests.gateway.conftest import say_and_settle
from tests.helpers import wait_for_session, wait_until


def states(device) -> list[str]:
    return [e["state"] for e in device.events if e["event"] == "state"]


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(any(state == item for item in remaining) for state in wanted)


async def command(device, name: DeviceCommand, **fields) -> None:
    await device.publish_raw("command", CommandMessage(name, **fields).to_json())


async def test_announced_only_after_it_finished_playing(
    make_gateway, make_device, reply_server
) -> None:
    reply_server.reply_seconds, reply_server.pace = 1.5, 0.25  # queued at once, plays 1.5 s
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("porch")
    await device.wait_connected()
    mark = device.recorder.mark()

    await command(device, DeviceCommand.ANNOUNCE, message="Dinner is ready", request_id="a1")
    await device.wait_event("announced", request_id="a1")
    announced_at = time.perf_counter()

    first = device.recorder.first_voiced(mark)
    assert first is not None
    heard = device.recorder.voiced_seconds(first)
    assert heard >= 1.35, f"announced after {heard:.2f} s of a 1.5 s announcement"
    assert announced_at - device.recorder.time_of(first) >= 1.0  # a loaded machine bunches frames
    assert "responding" in states(device)
    await wait_until(lambda: states(device)[-1] == "idle")


async def test_chime_plays_before_the_message_and_timer_sound_alone(
    make_gateway, make_device, reply_server
) -> None:
    reply_server.reply_seconds = 0.6
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("kitchen")
    await device.wait_connected()
    chime = sound_pcm(Sound.CHIME).size / 48000
    mark = device.recorder.mark()

    await command(device, DeviceCommand.ANNOUNCE, message="Hi", request_id="a2", sound=Sound.CHIME)
    await device.wait_event("announced", request_id="a2")
    first = device.recorder.first_voiced(mark)
    assert first is not None
    assert device.recorder.voiced_seconds(first) >= 0.6 + chime * 0.5  # tone + the chime's notes

    timer = sound_pcm(Sound.TIMER).size / 48000
    mark = device.recorder.mark()
    started = time.perf_counter()
    await command(device, DeviceCommand.ANNOUNCE, request_id="t1", sound=Sound.TIMER)
    await device.wait_event("announced", request_id="t1")
    assert time.perf_counter() - started >= timer - 0.1
    assert device.recorder.first_voiced(mark) is not None
    assert [f.payload for f in reply_server.requests(FrameKind.SPEAK)] == [b"Hi"]


async def test_announce_to_a_device_without_speaker_is_refused(
    make_gateway, make_device, reply_server
) -> None:
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("mic_only", capabilities=["audio"])
    await device.wait_connected()

    await command(device, DeviceCommand.ANNOUNCE, message="Hello", request_id="a3")

    error = await device.wait_event("error", request_id="a3")
    assert error["code"] == "no_speaker"
    assert not reply_server.requests(FrameKind.SPEAK)


async def test_states_of_a_turn_in_always_mode(make_gateway, make_device, reply_server) -> None:
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("office")
    await device.wait_connected()

    turn = await device.turn(tone(0.8))
    assert turn.event is not None
    await wait_until(lambda: states(device)[-1] == "idle")
    seen = states(device)
    assert is_subsequence(["idle", "listening", "processing", "responding", "idle"], seen), seen
    assert all(a != b for a, b in itertools.pairwise(seen)), "only changes are published"


async def test_wake_word_mode_ignores_speech_without_the_wake_word(
    make_gateway, make_device, reply_server
) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("living", listening_mode=ListeningMode.WAKE_WORD)
    await device.wait_connected()
    session = await wait_for_session(gateway, "living")

    await say_and_settle(gateway, device, tone(1.0))

    assert not [e for e in device.events if e["event"] in ("utterance", "wake")]
    assert not reply_server.received
    assert session.voice.listener.mode is ListeningMode.WAKE_WORD
    assert set(states(device)) == {"idle"}


async def test_push_to_talk(make_gateway, make_device, reply_server) -> None:
    reply_server.reply_seconds, reply_server.pace = 4.0, 1.0
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("desk", listening_mode=ListeningMode.PUSH_TO_TALK)
    await device.wait_connected()

    await say_and_settle(gateway, device, tone(0.8))  # not held: nothing is sent
    assert not reply_server.received

    await command(device, DeviceCommand.TALK_START)
    await wait_until(lambda: "listening" in states(device))
    await device.say(tone(0.8))
    await command(device, DeviceCommand.TALK_END)
    utterance = await device.wait_event("utterance")
    assert 800 <= utterance["duration_ms"] <= 800 + 300 + 400  # speech, pre-roll, release
    await device.recorder.wait_voiced(device.recorder.mark(), within=5)

    since = len(device.events)
    await command(device, DeviceCommand.TALK_START)  # pressing the button barges in
    interrupted = await device.wait_event("interrupted", since=since)
    assert interrupted["reason"] == "barge_in"
    assert interrupted["request_id"] == utterance["request_id"]
    await command(device, DeviceCommand.TALK_END)


async def test_talk_outside_push_to_talk_is_an_error(
    make_gateway, make_device, reply_server
) -> None:
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("hall")
    await device.wait_connected()

    await command(device, DeviceCommand.TALK_START, request_id="p1")

    error = await device.wait_event("error", request_id="p1")
    assert error["code"] == "not_push_to_talk"
    turn = await device.turn(tone(0.6))  # still answers in always mode
    assert turn.event is not None


async def test_settings_and_commands_switch_the_mode(
    make_gateway, make_device, reply_server
) -> None:
    gateway = await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("bedroom")
    await device.wait_connected()
    session = await wait_for_session(gateway, "bedroom")

    settings = DeviceSettings("bedroom", listening_mode=ListeningMode.WAKE_WORD)
    await device.publish_raw("settings", settings.to_json())
    await wait_until(lambda: session.voice.listener.mode is ListeningMode.WAKE_WORD)
    await say_and_settle(gateway, device, tone(0.8))
    assert not reply_server.received

    await device.publish_raw("settings", b'{"listening_mode": "sometimes"}')
    error = await device.wait_event("error", code="bad_settings")
    assert "listening_mode" in error["message"]
    assert session.voice.listener.mode is ListeningMode.WAKE_WORD

    await command(device, DeviceCommand.SET_LISTENING, listening_mode=ListeningMode.ALWAYS)
    await wait_until(lambda: session.voice.listener.mode is ListeningMode.ALWAYS)
    turn = await device.turn(tone(0.6))
    assert turn.event is not None and gateway.sessions["bedroom"] is session


async def test_start_conversation_listens_for_the_answer_without_a_trigger(
    make_gateway, make_device, reply_server
) -> None:
    reply_server.reply_seconds = 0.5
    gateway = await make_gateway(
        ai_server_port=reply_server.port, listening=ListeningSettings(follow_up_seconds=1.5)
    )
    device = await make_device("study", listening_mode=ListeningMode.WAKE_WORD)
    await device.wait_connected()

    await command(device, DeviceCommand.START_CONVERSATION, message="Which room?", request_id="q")
    await device.wait_event("announced", request_id="q")
    assert states(device)[-1] == "listening"

    turn = await device.turn(tone(0.8))  # the answer, no wake word: heard and answered
    assert turn.event is not None
    assert is_subsequence(["responding", "listening", "processing", "responding"], states(device))

    await device.recorder.wait_quiet(turn.first_audio_index or 0)
    await wait_until(lambda: states(device)[-1] == "idle", within=3)  # the follow-up window closed
    since = len(device.events)
    await say_and_settle(gateway, device, tone(0.8))
    assert not [e for e in device.events[since:] if e["event"] == "utterance"]
