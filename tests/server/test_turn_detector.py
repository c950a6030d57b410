"""Semantic end of turn on the server: log-mel, text rules, Smart Turn, TURN frames."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from naila_protocol.framing import (
    TURN_DISABLED,
    TURN_TEXT_ONLY,
    Frame,
    FrameKind,
    TurnSubscription,
    TurnVerdict,
)
from tests.helpers import wait_until
from tests.server.conftest import ServerFactory
from tests.server.wire import Gateway, connect, pcm_bytes, silence
from wyoming_bridge.app import ServerSettings
from wyoming_bridge.log_mel import fit_seconds, log_mel
from wyoming_bridge.models import ModelNotFoundError, piper_voice_files
from wyoming_bridge.turn_detector import (
    SMART_TURN_PACKAGE,
    SmartTurnModel,
    TurnDetector,
    TurnSettings,
    TurnSignals,
    smart_turn_file,
)
from wyoming_bridge.turn_text import TextTurn, classify

Speech = Callable[[str, int], np.ndarray]


def _pipecat_features() -> Callable[[np.ndarray], np.ndarray]:
    """Pipecat's own numpy log-mel (the reference the model was exported with)."""
    path = smart_turn_file().parents[1] / "_whisper_features.py"
    spec = importlib.util.spec_from_file_location("pipecat_whisper_features", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute_whisper_log_mel_features  # type: ignore[no-any-return]


@pytest.mark.parametrize("seconds", [0.7, 3.0, 9.5])
def test_log_mel_matches_the_reference_features(seconds: float) -> None:
    rng = np.random.default_rng(3)
    audio = (rng.normal(0, 0.1, int(seconds * 16000)) * np.hanning(int(seconds * 16000))).astype(
        np.float32
    )
    ours = log_mel(audio)
    reference = np.squeeze(_pipecat_features()(fit_seconds(audio, 8.0)))
    assert ours.shape == reference.shape == (80, 800)
    assert np.abs(ours - reference).max() < 1e-4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Set the thermostat to", TextTurn.INCOMPLETE),
        ("What's the", TextTurn.INCOMPLETE),
        ("turn on the lights in the kitchen and", TextTurn.INCOMPLETE),
        ("I want to...", TextTurn.INCOMPLETE),
        ("Turn on the kitchen lights.", TextTurn.COMMAND),
        ("Set the thermostat to 21 degrees.", TextTurn.COMMAND),
        ("Set a timer for ten minutes", TextTurn.COMMAND),
        ("What time is it?", TextTurn.COMMAND),
        ("Turn off all the lights in the bedroom please", TextTurn.COMMAND),
        ("Tell me a joke about cats.", TextTurn.NEUTRAL),
        ("  ", TextTurn.EMPTY),
    ],
)
def test_text_rules(text: str, expected: TextTurn) -> None:
    assert classify(text) is expected


def test_decide_weighs_text_before_the_model() -> None:
    both = TurnDetector(TurnSettings(signals=TurnSignals.TEXT_AUDIO, threshold=0.5))
    assert both.decide("set the thermostat to", 0.99, 900).complete is False
    assert both.decide("turn on the kitchen lights", 0.01, 900).complete is True
    assert both.decide("tell me a joke about cats", 0.7, 900).complete is True
    assert both.decide("tell me a joke about cats", 0.2, 900).complete is False
    verdict = both.decide("tell me a joke about cats", None, 900)
    assert (verdict.complete, verdict.reason, verdict.audio_ms) == (None, "model_unavailable", 900)
    text = TurnDetector(TurnSettings(signals=TurnSignals.TEXT))
    assert text.decide("tell me a joke about cats", None, 10).complete is True
    assert text.decide("", None, 10).complete is None


def test_smart_turn_runs_on_speech(speech: Speech) -> None:
    model = SmartTurnModel(smart_turn_file())
    audio = speech("turn on the kitchen lights", 16000).astype(np.float32) / 32768
    first, again = model.probability(audio), model.probability(audio)
    assert 0.0 <= first <= 1.0 and first == pytest.approx(again)
    assert model.probability(np.zeros(16000, dtype=np.float32)) <= 1.0


def test_missing_or_corrupt_model_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not found"):
        smart_turn_file(tmp_path / "nothing.onnx")
    corrupt = tmp_path / "smart-turn.onnx"
    corrupt.write_bytes(b"\x08\x01garbage, not a protobuf" * 10)
    with pytest.raises(ModelNotFoundError, match=SMART_TURN_PACKAGE):
        SmartTurnModel(corrupt)


def test_model_failing_at_run_time_falls_back_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a real ONNX model that loads but takes other inputs: it fails on every run
    voice, _ = piper_voice_files()
    detector = TurnDetector(TurnSettings(), SmartTurnModel(voice))
    caplog.set_level(logging.WARNING, logger="wyoming_bridge.turn_detector")
    audio = np.zeros(16000, dtype=np.float32)
    assert detector.audio_probability(audio) is None
    assert detector.audio_probability(audio) is None
    assert not detector.needs_audio
    warnings = [r for r in caplog.records if "Smart Turn failed" in r.getMessage()]
    assert len(warnings) == 1
    assert detector.decide("tell me a story", None, 500).complete is None  # fixed hang-over


async def _chunked(
    gateway: Gateway,
    request_id: str,
    pcm: bytes,
    rate: int,
    expect: int,
    subscribe: bytes = b"",
    last_words: str | None = None,
) -> list[TurnVerdict]:
    """100 ms CHUNKs in real time, TURN subscription after the first; the verdicts received
    (waiting up to 20 s for `expect` of them, and for one whose transcript has `last_words`:
    judging takes seconds on a loaded machine, and a slow STT may judge a short gap inside
    the speech too)."""
    step = rate * 2 // 10
    frames: list[Frame] = []
    reader = asyncio.create_task(_collect(gateway, frames))
    try:
        for index, offset in enumerate(range(0, len(pcm), step)):
            chunk = pcm[offset : offset + step]
            await gateway.send(Frame("den", rate, request_id, FrameKind.CHUNK, chunk))
            if index == 0:
                await gateway.send(Frame("den", rate, request_id, FrameKind.TURN, subscribe))
            await asyncio.sleep(0.1)  # pacing: a live microphone
        await wait_until(
            lambda: (
                len(frames) >= expect
                and (
                    last_words is None
                    or last_words in TurnVerdict.from_frame(frames[-1]).transcript.lower()
                )
            ),
            20,
        )
        await asyncio.sleep(0.3)  # time for a verdict too many to arrive (none may)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert all(f.kind is FrameKind.TURN and f.request_id == request_id for f in frames), frames
    return [TurnVerdict.from_frame(frame) for frame in frames]


async def _collect(gateway: Gateway, frames: list[Frame]) -> None:
    while (frame := await gateway.frame()) is not None:
        frames.append(frame)


async def test_turn_frames_judge_each_pause(make_server: ServerFactory, speech: Speech) -> None:
    server = await make_server()
    rate = 16000
    pcm = (
        pcm_bytes(speech("turn on the kitchen lights", rate))
        + silence(3.0, rate)  # long enough for a verdict even when STT is slow
        + pcm_bytes(speech("what time is it", rate))
        + silence(0.8, rate)
    )
    async with connect(server.port) as gateway:
        verdicts = await _chunked(gateway, "t1", pcm, rate, expect=2, last_words="time")
        await gateway.send(Frame("den", rate, "t1", FrameKind.FINAL))
        reply = await gateway.streamed_reply("t1")
    assert reply.summary.status == "ok"
    assert len(verdicts) >= 2, verdicts
    # the verdict of the 3 s pause (a slow STT may also have judged a gap inside the words)
    first = next((v for v in verdicts if "kitchen" in v.transcript.lower()), verdicts[0])
    last = verdicts[-1]
    assert first.complete is True and "kitchen" in first.transcript.lower(), first
    assert first.reason == "text_command", first
    assert "time" in last.transcript.lower(), last
    assert first.audio_ms < last.audio_ms <= len(pcm) // 32
    assert first.probability is not None and "text_ms" in first.timings


async def test_no_turn_frames_without_subscription_or_model(
    make_server: ServerFactory, speech: Speech
) -> None:
    server = await make_server(settings=ServerSettings(turn=TurnSettings(enabled=False)))
    rate = 16000
    pcm = pcm_bytes(speech("turn on the kitchen lights", rate)) + silence(0.6, rate)
    async with connect(server.port) as gateway:
        verdicts = await _chunked(gateway, "t2", pcm, rate, expect=1)
    assert [(v.complete, v.reason) for v in verdicts] == [(None, TURN_DISABLED)]


async def test_text_only_subscription_skips_the_model(
    make_server: ServerFactory, speech: Speech
) -> None:
    """A gateway that runs Smart Turn itself asks for the text rules only."""
    server = await make_server()
    rate = 16000
    pcm = (
        pcm_bytes(speech("tell me about the weather", rate))
        + silence(3.0, rate)
        + pcm_bytes(speech("turn on the kitchen lights", rate))
        + silence(0.8, rate)
    )
    body = TurnSubscription(TURN_TEXT_ONLY).to_json()
    async with connect(server.port) as gateway:
        verdicts = await _chunked(gateway, "t3", pcm, rate, expect=2, subscribe=body)
    assert len(verdicts) >= 2, verdicts
    assert all(v.probability is None and "model_ms" not in v.timings for v in verdicts), verdicts
    assert all(v.reason.startswith("text_") for v in verdicts), verdicts
    assert "kitchen" in verdicts[-1].transcript.lower(), verdicts
    assert verdicts[-1].complete is True, verdicts  # a whole command (or a clause that ends)


@pytest.mark.parametrize("body", [b'{"signals": "psychic"}', b"[1, 2]", b"\xff\xfe"])
async def test_bad_subscription_body_is_refused(
    make_server: ServerFactory, speech: Speech, body: bytes
) -> None:
    server = await make_server()
    rate = 16000
    async with connect(server.port) as gateway:
        await gateway.send(Frame("den", rate, "t4", FrameKind.CHUNK, silence(0.1, rate)))
        await gateway.send(Frame("den", rate, "t4", FrameKind.TURN, body))
        reply = await gateway.frame()
        assert reply is not None and reply.kind is FrameKind.ERROR, reply
        assert reply.json()["code"] == "bad_header" and "turn body" in reply.json()["message"]
        await gateway.send(Frame("den", rate, "t4", FrameKind.TURN))  # the request lives on
        await gateway.send(Frame("den", rate, "t4", FrameKind.FINAL, pcm_bytes(speech("hi", rate))))
        assert (await gateway.streamed_reply("t4")).summary.status == "ok"
