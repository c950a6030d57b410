"""The device command payload: exact bytes, round trips, and a clear error for each bad field."""

from __future__ import annotations

import pytest

from naila_protocol.commands import CommandMessage
from naila_protocol.payloads import PayloadError
from naila_protocol.vocab import DeviceCommand, ListeningMode, Sound, WakeWord


def test_announce_bytes_and_round_trip() -> None:
    command = CommandMessage(
        DeviceCommand.ANNOUNCE, request_id="ann_1", message="Dinner is ready", sound=Sound.CHIME
    )
    assert command.to_json() == (
        b'{"command":"announce","request_id":"ann_1","message":"Dinner is ready","sound":"chime"}'
    )
    assert CommandMessage.from_json(command.to_json()) == command
    assert CommandMessage.from_json(command.to_json(), "porch").device_id == "porch"


def test_media_announce_bytes_and_round_trip() -> None:
    command = CommandMessage(
        DeviceCommand.ANNOUNCE,
        request_id="ann_2",
        message="Doorbell",
        sound=Sound.CHIME,
        media_url="http://192.168.1.5:8123/media/local/bell.mp3?authSig=abc",
    )
    assert command.to_json() == (
        b'{"command":"announce","request_id":"ann_2","message":"Doorbell","sound":"chime",'
        b'"media_url":"http://192.168.1.5:8123/media/local/bell.mp3?authSig=abc"}'
    )
    assert CommandMessage.from_json(command.to_json()) == command
    bare = CommandMessage.from_json(b'{"command":"announce","media_url":"https://h/a.ogg"}')
    assert (bare.message, bare.media_url) == ("", "https://h/a.ogg")


@pytest.mark.parametrize(
    "command",
    [
        CommandMessage(DeviceCommand.START_CONVERSATION, "hall", "q1", "Which room?"),
        CommandMessage(
            DeviceCommand.START_CONVERSATION, "hall", "q2", media_url="http://ha:8123/q.wav"
        ),
        CommandMessage(DeviceCommand.ANNOUNCE, "hall", "t1", sound=Sound.TIMER),
        CommandMessage(DeviceCommand.TALK_START, "hall"),
        CommandMessage(DeviceCommand.TALK_END, "hall"),
        CommandMessage(DeviceCommand.STOP, "hall"),
        CommandMessage(
            DeviceCommand.SET_LISTENING,
            "hall",
            listening_mode=ListeningMode.PUSH_TO_TALK,
            wake_word=WakeWord.HEY_JARVIS,
        ),
    ],
    ids=lambda c: str(c.command),
)
def test_every_command_round_trips(command: CommandMessage) -> None:
    assert CommandMessage.from_json(command.to_json(), "hall") == command


def test_fields_of_other_commands_are_dropped() -> None:
    parsed = CommandMessage.from_json(
        b'{"command":"stop","message":"x","listening_mode":"always","media_url":"ftp://x"}'
    )
    assert parsed == CommandMessage(DeviceCommand.STOP)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"command":"self_destruct"}', "'command' must be one of announce, start_conversation"),
        (b'{"message":"hi"}', "'command' is required"),
        (b'{"command":"announce","message":"  "}', "announce needs a non-empty 'message'"),
        (b'{"command":"start_conversation","sound":"chime"}', "needs a non-empty 'message'"),
        (b'{"command":"announce","message":"hi","sound":"siren"}', "'sound' must be one of"),
        (b'{"command":"announce","message":"hi","request_id":"a b"}', "'request_id' must be"),
        (b'{"command":"set_listening"}', "needs 'listening_mode' or 'wake_word'"),
        (b'{"command":"set_listening","wake_word":"hey_siri"}', "'wake_word' must be one of"),
        (b'{"command":"stop","device_id":"hall"}', "'hall' on the topic of 'porch'"),
        (b'["stop"]', "expected a JSON object"),
        (b'{"command":"announce","message":"' + b"x" * 2001 + b'"}', "at most 2000"),
        (b'{"command":"announce","media_url":"file:///etc/passwd"}', "absolute http:// or"),
        (b'{"command":"announce","media_url":"/api/tts_proxy/a.mp3"}', "absolute http:// or"),
        (b'{"command":"announce","media_url":"http://h/a b.mp3"}', "must not contain spaces"),
        (b'{"command":"announce","media_url":"http://[::1/a"}', "is not a URL"),
        (b'{"command":"announce","media_url":"http://h/' + b"x" * 2048 + b'"}', "at most 2048"),
        (b'{"command":"announce","media_url":7}', "'media_url' must be a string"),
    ],
)
def test_bad_commands_say_why(payload: bytes, error: str) -> None:
    with pytest.raises(PayloadError, match=error.replace("(", r"\(")):
        CommandMessage.from_json(payload, "porch")
