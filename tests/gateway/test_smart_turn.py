"""AUDIO_END_OF_TURN=smart_turn: the gateway's own Smart Turn v3.2 verdict at each pause.

Real model (the ONNX file inside the pipecat-ai wheel), real gateway and simulated devices
over aiortc, the AI-server stand-in of tests/gateway/reply_server.py.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from naila_gateway.end_of_turn import EndOfTurnMode, EndOfTurnSettings, TurnGate
from naila_protocol.framing import TURN_DISABLED, FrameKind, TurnVerdict
from naila_sim import tone
from tests.gateway.test_end_of_turn import paused
from tests.helpers import wait_for_session
from wyoming_bridge.models import piper_voice_files

SMART = EndOfTurnSettings(
    EndOfTurnMode.SMART_TURN,
    min_silence_s=0.16,
    max_silence_s=3.0,
    verdict_wait_s=2.5,
    probe_s=0.1,
    threshold=0.5,
)
"""Long maximum and wait: a turn that ends well before 2 s ended on a verdict, not on them."""


def test_gate_follows_smart_turn_and_the_text() -> None:
    gate = TurnGate(SMART, fixed_frames=15)
    gate.reset()
    gate.observe(True, 50)  # speech up to 1000 ms
    assert gate.probe_due(52) is None  # 40 ms of pause: too early
    assert gate.required_frames() == 125  # no probability yet: the verdict wait
    assert gate.probe_due(55) == 1000
    assert gate.probe_due(56) is None  # once per pause
    gate.on_probability(1000, 0.9)
    assert gate.required_frames() == 8  # complete: the minimum silence
    gate.on_verdict(TurnVerdict(False, 1100, "text_incomplete"))
    assert gate.required_frames() == 150  # the transcript waits for more: the maximum
    assert gate.pausing(1000)
    gate.observe(True, 60)  # the speaker went on: both are stale
    assert not gate.pausing(1000)  # a run still queued for that pause is skipped
    gate.on_probability(1000, 0.9)  # the answer about the old pause
    assert gate.required_frames() == 125
    assert gate.probe_due(65) == 1200
    gate.on_probability(1200, 0.1)
    assert gate.required_frames() == 150  # Smart Turn: not finished
    gate.on_verdict(TurnVerdict(True, 1300, "text_command"))
    assert gate.required_frames() == 8  # a whole command ends it
    gate.on_verdict(TurnVerdict(True, 1300, "text_clause"))
    assert gate.required_frames() == 150  # other text verdicts leave it to Smart Turn
    gate.on_verdict(TurnVerdict(None, 0, TURN_DISABLED))
    assert gate.required_frames() == 150  # the server's text is optional here
    gate.on_probability(1200, None)  # the model failed
    assert gate.audio_failed and gate.required_frames() == 15
    gate.reset()
    gate.observe(True, 10)
    assert gate.probe_due(20) is None  # never again: the fixed hang-over


def test_settings_and_validation() -> None:
    from naila_gateway import GatewayConfig  # noqa: PLC0415

    env = {
        "AUDIO_END_OF_TURN": "smart_turn",
        "AUDIO_END_OF_TURN_PROBE": "0.08",
        "AUDIO_END_OF_TURN_THRESHOLD": "0.7",
    }
    config = GatewayConfig.from_env(env)
    config.validate()
    turn = config.end_of_turn
    assert (turn.mode, turn.probe_s, turn.threshold) == (EndOfTurnMode.SMART_TURN, 0.08, 0.7)
    assert GatewayConfig.from_env({**env, "AI_SERVER_PROTOCOL": "basic"}).validate() is None
    with pytest.raises(ValueError, match="THRESHOLD"):
        GatewayConfig.from_env({**env, "AUDIO_END_OF_TURN_THRESHOLD": "1.5"}).validate()
    with pytest.raises(ValueError, match="PROBE"):
        GatewayConfig.from_env({**env, "AUDIO_END_OF_TURN_PROBE": "5"}).validate()


def _smart(**changes: object) -> EndOfTurnSettings:
    return EndOfTurnSettings(**{**_fields(SMART), **changes})  # type: ignore[arg-type]


async def test_complete_verdict_ends_the_turn_after_the_short_silence(
    make_gateway, make_device, reply_server
) -> None:
    """Threshold 0: whatever the real model says about the pause, the turn is complete."""
    reply_server.turn = None  # the stand-in sends no text verdicts: Smart Turn alone decides
    gateway = await make_gateway(
        ai_server_port=reply_server.port, silence_frames=100, end_of_turn=_smart(threshold=0.0)
    )  # the fixed hang-over would be 2 s, the verdict wait is 2.5 s
    assert gateway.smart_turn is not None
    device = await make_device("kitchen")
    await device.wait_connected()
    session = await wait_for_session(gateway, "kitchen")
    turn = await device.turn(tone(1.0))
    assert turn.event is not None and turn.event["status"] == "ok"
    assert turn.event["gateway_timings"]["end_of_speech_ms"] < 1800  # ended on the verdict
    assert not session.voice.turn.audio_failed
    (subscription,) = reply_server.requests(FrameKind.TURN)
    assert json.loads(subscription.payload) == {"signals": "text"}  # Smart Turn runs here


async def test_incomplete_verdict_waits_through_a_pause(
    make_gateway, make_device, reply_server
) -> None:
    """Threshold 1: the real model's answer is "not finished" at every pause."""
    gateway = await make_gateway(
        ai_server_port=reply_server.port, end_of_turn=_smart(threshold=1.0)
    )
    device = await make_device("hall")
    await device.wait_connected()
    session = await wait_for_session(gateway, "hall")
    turn = await device.turn(paused(0.6, 0.9, 0.6))
    assert turn.event is not None
    assert len(reply_server.requests(FrameKind.FINAL)) == 1  # one turn across the pause
    final = reply_server.requests(FrameKind.FINAL)[0]
    sent = [f for f in reply_server.received if f.request_id == final.request_id]
    assert sum(len(f.payload) for f in sent) / 32000 > 0.6 + 0.9 + 0.6
    assert turn.event["gateway_timings"]["end_of_speech_ms"] > 2500  # waited for the maximum
    assert not session.voice.turn.audio_failed


async def test_model_failing_at_run_time_falls_back_to_the_fixed_hang_over(
    make_gateway, make_device, reply_server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="naila_gateway.turn_audio")
    voice, _ = piper_voice_files()  # a real ONNX model that loads but takes other inputs
    failing = _smart(model=str(voice))
    gateway = await make_gateway(ai_server_port=reply_server.port, end_of_turn=failing)
    device = await make_device("office")
    await device.wait_connected()
    session = await wait_for_session(gateway, "office")
    for _ in range(2):
        turn = await device.turn(tone(1.0))
        assert turn.event is not None and turn.event["status"] == "ok"
        assert turn.event["gateway_timings"]["end_of_speech_ms"] < 1800  # 300 ms, not the wait
    assert session.voice.turn.audio_failed
    warnings = [r for r in caplog.records if "Smart Turn failed" in r.getMessage()]
    assert len(warnings) == 1, warnings


@pytest.mark.parametrize(
    ("model", "message"),
    [("missing.onnx", "Smart Turn model not found"), ("corrupt.onnx", "pipecat-ai")],
)
def test_missing_or_corrupt_model_is_one_error_line(
    tmp_path: Path, model: str, message: str
) -> None:
    (tmp_path / "corrupt.onnx").write_bytes(b"\x08\x01not a protobuf" * 10)
    env = {
        **os.environ,
        "AUDIO_END_OF_TURN": "smart_turn",
        "AUDIO_END_OF_TURN_MODEL": str(tmp_path / model),
        "MQTT_HOST": "127.0.0.1",
        "MQTT_PORT": "9",
    }
    done = subprocess.run(
        [sys.executable, "-m", "naila_gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and message in errors[0], done.stderr
    assert "Traceback" not in done.stderr


def _fields(settings: EndOfTurnSettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}
