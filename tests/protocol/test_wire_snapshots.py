"""Exact bytes on the wire: every frame kind of the gateway <-> AI-server socket and the JSON
payloads of naila_protocol and the AI server's MQTT topics, against committed snapshot files.

A deliberate change of the wire format: `NAILA_UPDATE_SNAPSHOTS=1 $NAILA_PY -m pytest
tests/protocol/test_wire_snapshots.py`, then review and commit tests/protocol/snapshots/.
"""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import aiomqtt
import pytest

from naila_protocol.device_events import transcript_event
from naila_protocol.framing import (
    PING_FRAME,
    TURN_TEXT_ONLY,
    ErrorCode,
    Frame,
    FrameKind,
    PartialTranscript,
    ReplySummary,
    TurnSubscription,
    TurnVerdict,
    encode_frame,
    error_frame,
)
from naila_protocol.mqtt import MqttSettings
from naila_protocol.payloads import (
    ConversationRequest,
    ConversationResponse,
    ConversationResponseType,
    DeviceSettings,
    DeviceStatus,
    IntegrationStatus,
)
from naila_protocol.vocab import ConversationMode, ListeningMode, ReplyRoute, RouteReason, WakeWord
from tests.conftest import Broker
from tests.helpers import assert_snapshot
from wyoming_bridge import mqtt_status
from wyoming_bridge.mqtt_status import MqttStatus
from wyoming_bridge.pipeline import RequestInfo

SNAPSHOTS = Path(__file__).parent / "snapshots"
WHEN = "2026-01-02T03:04:05Z"
PCM = struct.pack("<8h", 0, 1000, -1000, 32767, -32768, 1, -1, 0)
"""Eight 16-bit samples."""
JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"

FRAMES = {
    "basic": Frame("kitchen", 16000, "r1", FrameKind.BASIC, PCM),
    "stream": Frame("kitchen", 16000, "r2", FrameKind.STREAM, PCM),
    "chunk": Frame("kitchen", 16000, "r3", FrameKind.CHUNK, PCM),
    "final": Frame("kitchen", 16000, "r3", FrameKind.FINAL, PCM),
    "audio": Frame("kitchen", 22050, "r2", FrameKind.AUDIO, PCM),
    "end": Frame(
        "kitchen",
        22050,
        "r2",
        FrameKind.END,
        ReplySummary(
            transcript="what time is it",
            reply="It is ten past three.",
            timings={"stt_ms": 120.5, "first_audio_ms": 640.0, "total_ms": 1800.25},
            route=ReplyRoute.LLM,
            route_reason=RouteReason.NO_INTENT_MATCH,
        ).to_json(),
    ),
    "cancel": Frame("kitchen", 0, "r2", FrameKind.CANCEL),
    "error": error_frame(
        ErrorCode.BAD_SAMPLE_RATE, "sample rate 12345 not supported", request_id="r4"
    ),
    "video": Frame("front_door", 0, "vid-a1b2c3-1", FrameKind.VIDEO, JPEG),
    "speak": Frame("kitchen", 48000, "r5", FrameKind.SPEAK, b"Dinner is ready."),
    "auth": Frame("-", 0, "-", FrameKind.AUTH, b"s3cret-token"),
    "auth_ok": Frame("-", 0, "-", FrameKind.AUTH_OK),
    "ping": PING_FRAME,
    "turn": Frame(
        "kitchen",
        16000,
        "r3",
        FrameKind.TURN,
        TurnVerdict(
            complete=False,
            audio_ms=1200,
            reason="text_incomplete",
            probability=0.125,
            transcript="turn on the",
            timings={"model_ms": 35.5, "text_ms": 210.0},
        ).to_json(),
    ),
    "partial": Frame(
        "kitchen",
        16000,
        "r3",
        FrameKind.PARTIAL,
        PartialTranscript(text="turn on the", audio_ms=1200).to_json(),
    ),
    "turn_subscribe": Frame("kitchen", 16000, "r3", FrameKind.TURN),
    "turn_subscribe_text": Frame(
        "kitchen", 16000, "r3", FrameKind.TURN, TurnSubscription(TURN_TEXT_ONLY).to_json()
    ),
}


def test_every_frame_kind_has_a_snapshot() -> None:
    assert {frame.kind for frame in FRAMES.values()} == set(FrameKind)


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_frame_bytes(name: str) -> None:
    assert_snapshot(SNAPSHOTS / f"frame_{name}.bin", encode_frame(FRAMES[name]))


PAYLOADS = {
    "device_status": DeviceStatus(
        "kitchen",
        online=True,
        capabilities=frozenset({"audio", "speaker", "camera"}),
        name="Kitchen speaker",
        zone="kitchen",
        listening_mode=ListeningMode.WAKE_WORD,
        wake_word=WakeWord.OKAY_NABU,
        timestamp=WHEN,
    ).to_json(),
    "device_settings": DeviceSettings(
        "kitchen",
        conversation=ConversationMode.HA_ONLY,
        agent_id="conversation.home_assistant",
        listening_mode=ListeningMode.PUSH_TO_TALK,
        timestamp=WHEN,
    ).to_json(),
    "conversation_request": ConversationRequest(
        "req-1",
        "kitchen",
        "turn on the kitchen lights",
        conversation_id="conv-1",
        timestamp=WHEN,
    ).to_json(),
    "conversation_response": ConversationResponse(
        "req-1",
        "kitchen",
        handled=True,
        response_type=ConversationResponseType.ACTION_DONE,
        speech="Turned on the lights",
        conversation_id="conv-1",
        targets=("light.kitchen",),
        agent_id="conversation.home_assistant",
        timestamp=WHEN,
    ).to_json(),
    "integration_status": IntegrationStatus(online=True, version="0.1.0", timestamp=WHEN).to_json(),
    "transcript_event": json.dumps(transcript_event("r3", "turn on the", audio_ms=1200)).encode(),
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_payload_bytes(name: str) -> None:
    assert_snapshot(SNAPSHOTS / f"{name}.json", PAYLOADS[name])


async def test_server_status_and_metrics_on_the_broker(
    mqtt_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a real broker delivers on `server/status` and `server/metrics`; the timestamp is
    fixed and the live task count replaced, every other byte is the server's."""
    monkeypatch.setattr(mqtt_status, "utc_timestamp", lambda: WHEN)
    settings = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port, prefix="snap")
    status = MqttStatus(settings, "ai-1", ["stt", "llm", "tts"], lambda: 2)
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe("snap/server/#", qos=1)
        status.start()
        try:
            received: dict[str, bytes] = {}
            async with asyncio.timeout(15):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    received[message.topic.value] = message.payload
                    if message.topic.value == "snap/server/status":
                        summary = ReplySummary(
                            timings={"stt_ms": 100.0, "first_audio_ms": 500.5, "total_ms": 900.0},
                            route=ReplyRoute.HA,
                            route_reason=RouteReason.HANDLED,
                        )
                        status.record(RequestInfo("kitchen", "req-1"), summary)
                    if len(received) == 2:
                        break
        finally:
            await status.close()
    assert_snapshot(SNAPSHOTS / "server_status.json", received["snap/server/status"])
    metrics = json.loads(received["snap/server/metrics"])
    assert isinstance(metrics.pop("tasks"), int)
    assert_snapshot(SNAPSHOTS / "server_metrics.json", json.dumps(metrics).encode())
