"""The JSON payload schemas: exact bytes on the wire, round trips and clear errors."""

from __future__ import annotations

import pytest

from naila_protocol.payloads import (
    ConversationRequest,
    ConversationResponse,
    ConversationResponseType,
    DeviceSettings,
    DeviceStatus,
    IntegrationStatus,
    PayloadError,
    audio_capable,
    camera_capable,
    speaker_capable,
    utc_timestamp,
)
from naila_protocol.vocab import ConversationMode, ListeningMode, WakeWord

TS = "2026-12-03T08:00:00Z"


def test_conversation_request_bytes() -> None:
    request = ConversationRequest("r1", "kitchen-1", "turn off the lights", timestamp=TS)
    assert request.to_json() == (
        b'{"request_id":"r1","device_id":"kitchen-1","text":"turn off the lights",'
        b'"language":"en","timestamp":"2026-12-03T08:00:00Z"}'
    )
    assert ConversationRequest.from_json(request.to_json()) == request


def test_conversation_response_bytes() -> None:
    response = ConversationResponse(
        "r1",
        "kitchen-1",
        handled=True,
        response_type=ConversationResponseType.ACTION_DONE,
        speech="Turned off the lights",
        conversation_id="c1",
        targets=("light.kitchen",),
        agent_id="conversation.home_assistant",
        timestamp=TS,
    )
    assert response.to_json() == (
        b'{"request_id":"r1","device_id":"kitchen-1","handled":true,"response_type":"action_done",'
        b'"speech":"Turned off the lights","conversation_id":"c1","targets":["light.kitchen"],'
        b'"agent_id":"conversation.home_assistant","continue_conversation":false,'
        b'"timestamp":"2026-12-03T08:00:00Z"}'
    )
    assert ConversationResponse.from_json(response.to_json(), "r1") == response


def test_settings_and_status_round_trip() -> None:
    settings = DeviceSettings(
        "d1", ConversationMode.HA_ONLY, None, ListeningMode.ALWAYS, WakeWord.ALEXA, TS
    )
    assert DeviceSettings.from_json(settings.to_json(), "d1") == settings
    status = DeviceStatus.from_json(
        b'{"device_id":"d1","online":true,"capabilities":["MIC","speaker"],"zone":"hall"}', "d1"
    )
    assert status.has_audio and status.has_speaker and not status.has_camera
    assert status.zone == "hall" and not status.is_last_will
    assert DeviceStatus.from_json(b"", "d1").online is False
    assert IntegrationStatus.from_json(IntegrationStatus(True, "1.0", TS).to_json()).online


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "UTF-8 JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"device_id":"d1"}', "'online'"),
        (b'{"device_id":"other","online":true}', "names device 'other'"),
        (b'{"online":true,"capabilities":"mic"}', "'capabilities'"),
        (b'{"online":true,"listening_mode":"sometimes"}', "'listening_mode' must be one of"),
        (b'{"online":"yes"}', "'online'"),
        (b'{"online":true,"name":' + b'"' + b"x" * 200 + b'"}', "'name'"),
        (b" " * 70_000, "exceeds the limit"),
    ],
)
def test_bad_status_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        DeviceStatus.from_json(raw, "d1")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"request_id":"r2","device_id":"d1","handled":true,"response_type":"action_done"}',
        b'{"request_id":"r1","device_id":"d1","handled":true}',
        b'{"request_id":"r1","device_id":"d/1","handled":true,"response_type":"error"}',
        b'{"request_id":"r1","device_id":"d1","handled":1,"response_type":"error"}',
    ],
)
def test_bad_conversation_response_is_refused(raw: bytes) -> None:
    with pytest.raises(PayloadError):
        ConversationResponse.from_json(raw, "r1")


def test_timestamp_format() -> None:
    stamp = utc_timestamp()
    assert len(stamp) == 20 and stamp.endswith("Z") and stamp[10] == "T"
    assert utc_timestamp(0.0) == "1970-01-01T00:00:00Z"
    assert utc_timestamp(1.25, milliseconds=True) == "1970-01-01T00:00:01.250Z"


def test_status_removed_last_will_and_listening_read_apart() -> None:
    removed = DeviceStatus.from_json(b"", "d1")
    assert removed.removed and not removed.online and not removed.is_last_will
    assert removed.to_json() == b""
    will = DeviceStatus.from_json(b'{"device_id":"d1","online":false}', "d1")
    assert will.is_last_will and not will.removed
    raw = b'{"online":true,"capabilities":["Video"],"listening_mode":"sometimes"}'
    status = DeviceStatus.from_json(raw, "d1", listening=False)
    assert status.has_camera and status.listening_mode is None
    firmware = DeviceStatus.from_json(b'{"online":true,"firmware_version":"1.2"}', "d1")
    assert firmware.firmware_version == "1.2"
    assert DeviceStatus.from_json(firmware.to_json(), "d1") == firmware
    epoch = DeviceStatus.from_json(b'{"online":true,"timestamp":1}', "d1")
    assert epoch.timestamp == "1970-01-01T00:00:01Z" and not epoch.is_last_will
    with pytest.raises(PayloadError, match="'timestamp'"):
        DeviceStatus.from_json(b'{"online":true,"timestamp":[1]}', "d1")


def test_capability_spellings_are_read_once() -> None:
    assert audio_capable(["MIC"]) and audio_capable(("microphone",)) and audio_capable(["audio"])
    assert camera_capable(["Video"]) and camera_capable(["camera"]) and not camera_capable(["mic"])
    assert speaker_capable(["Speaker"]) and not speaker_capable(["audio"])
    status = DeviceStatus.from_json(b'{"online":true,"capabilities":["Mic","VIDEO"]}', "d1")
    assert status.has_audio and status.has_camera and not status.has_speaker
