"""Semantic end of turn in the gateway: TurnGate, settings, and TURN verdicts end to end."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from naila_gateway import GatewayConfig
from naila_gateway.end_of_turn import EndOfTurnMode, EndOfTurnSettings, TurnGate
from naila_protocol.framing import TURN_DISABLED, FrameKind, TurnVerdict
from naila_sim import tone
from tests.helpers import wait_for_session

SEMANTIC = EndOfTurnSettings(
    EndOfTurnMode.SEMANTIC, min_silence_s=0.16, max_silence_s=2.0, verdict_wait_s=0.6
)


def test_gate_frames_follow_the_verdict() -> None:
    gate = TurnGate(SEMANTIC, fixed_frames=15)
    gate.reset()
    gate.observe(True, 50)  # speech up to 1000 ms of the utterance
    assert gate.required_frames() == 30  # no verdict yet: verdict_wait
    gate.on_verdict(TurnVerdict(True, 1150, "text_command"))
    assert gate.required_frames() == 8  # complete: min_silence
    gate.on_verdict(TurnVerdict(False, 1150, "text_incomplete"))
    assert gate.required_frames() == 100  # incomplete: max_silence
    gate.on_verdict(TurnVerdict(None, 1150, "model_unavailable"))
    assert gate.required_frames() == 15  # no opinion: the fixed hang-over
    gate.observe(True, 70)  # the speaker went on: the verdict is stale
    assert gate.required_frames() == 30
    gate.on_verdict(TurnVerdict(True, 1150, "late"))  # about audio before the new speech
    assert gate.required_frames() == 30
    assert TurnGate(EndOfTurnSettings(), 15).required_frames() == 15
    gate.on_verdict(TurnVerdict(None, 0, TURN_DISABLED))
    assert gate.required_frames() == 15


def test_settings_from_env_and_validation() -> None:
    env = {
        "AUDIO_END_OF_TURN": "semantic",
        "AUDIO_END_OF_TURN_MIN_SILENCE": "0.2",
        "AUDIO_END_OF_TURN_MAX_SILENCE": "2.5",
    }
    config = GatewayConfig.from_env(env)
    assert config.end_of_turn.mode is EndOfTurnMode.SEMANTIC
    assert (config.end_of_turn.min_silence_s, config.end_of_turn.max_silence_s) == (0.2, 2.5)
    config.validate()
    with pytest.raises(ValueError, match="AUDIO_END_OF_TURN="):
        GatewayConfig.from_env({"AUDIO_END_OF_TURN": "psychic"})
    with pytest.raises(ValueError, match="max_silence"):
        GatewayConfig.from_env({**env, "AUDIO_END_OF_TURN_MAX_SILENCE": "0.1"}).validate()
    basic = GatewayConfig.from_env({**env, "AI_SERVER_PROTOCOL": "basic"})
    with pytest.raises(ValueError, match="needs AI_SERVER_PROTOCOL=stream"):
        basic.validate()


def paused(first: float, pause: float, second: float) -> np.ndarray:
    gap = np.zeros(int(pause * 48000), dtype=np.int16)
    return np.concatenate((tone(first), gap, tone(second, frequency=520)))


async def test_complete_verdict_ends_the_turn_early(
    make_gateway, make_device, reply_server
) -> None:
    reply_server.turn = True
    await make_gateway(
        ai_server_port=reply_server.port, silence_frames=40, end_of_turn=SEMANTIC
    )  # the fixed hang-over would be 800 ms
    device = await make_device("kitchen")
    await device.wait_connected()
    turn = await device.turn(tone(1.0))
    assert turn.event is not None
    assert turn.event["gateway_timings"]["end_of_speech_ms"] < 500
    assert reply_server.requests(FrameKind.TURN)


async def test_incomplete_verdict_waits_through_a_pause(
    make_gateway, make_device, reply_server
) -> None:
    reply_server.turn = False  # "the speaker is not done" at every pause
    gateway = await make_gateway(
        ai_server_port=reply_server.port,
        end_of_turn=EndOfTurnSettings(
            EndOfTurnMode.SEMANTIC, min_silence_s=0.16, max_silence_s=1.5, verdict_wait_s=0.6
        ),
    )
    device = await make_device("hall")
    await device.wait_connected()
    session = await wait_for_session(gateway, "hall")
    turn = await device.turn(paused(0.6, 0.8, 0.6))
    assert turn.event is not None
    assert len(reply_server.requests(FrameKind.FINAL)) == 1  # one turn across the pause
    final = reply_server.requests(FrameKind.FINAL)[0]
    sent = [f for f in reply_server.received if f.request_id == final.request_id]
    assert sum(len(f.payload) for f in sent) / 32000 > 0.6 + 0.8 + 0.6
    assert turn.event["gateway_timings"]["end_of_speech_ms"] > 1200  # waited for more
    assert session.voice.turn.verdicts >= 2


async def test_fixed_hang_over_cuts_the_same_pause(make_gateway, make_device, reply_server) -> None:
    await make_gateway(ai_server_port=reply_server.port)
    device = await make_device("den")
    await device.wait_connected()
    await device.say(paused(0.6, 0.8, 0.6))
    await device.wait_event("reply", within=15)
    await device.wait_event("utterance", since=1, within=15)
    assert len(reply_server.requests(FrameKind.TURN)) == 0
    assert len({f.request_id for f in reply_server.requests(FrameKind.CHUNK)}) == 2


async def test_no_verdicts_end_after_the_wait_with_one_warning(
    make_gateway, make_device, reply_server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="naila_gateway.end_of_turn")
    await make_gateway(ai_server_port=reply_server.port, end_of_turn=SEMANTIC)
    device = await make_device("office")
    await device.wait_connected()
    first = await device.turn(tone(0.6))
    second = await device.turn(tone(0.6))
    for turn in (first, second):
        assert turn.event is not None
        assert 550 <= turn.event["gateway_timings"]["end_of_speech_ms"] < 900
    warnings = [r for r in caplog.records if "no end-of-turn verdict" in r.getMessage()]
    assert len(warnings) == 1


async def test_malformed_verdict_is_ignored(
    make_gateway, make_device, reply_server, caplog: pytest.LogCaptureFixture
) -> None:
    reply_server.turn = b'{"complete": "yes", "audio_ms": -4}'
    caplog.set_level(logging.WARNING)
    await make_gateway(ai_server_port=reply_server.port, end_of_turn=SEMANTIC)
    device = await make_device("porch")
    await device.wait_connected()
    turn = await device.turn(tone(0.6))
    assert turn.event is not None and turn.event["status"] == "ok"
    assert turn.event["gateway_timings"]["end_of_speech_ms"] >= 550  # ended on the wait
    assert any("malformed TURN body" in r.getMessage() for r in caplog.records)
