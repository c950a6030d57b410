"""The end-of-turn sweep replays recorded timelines with the gateway's own detector and gate."""

from __future__ import annotations

import json
from pathlib import Path

from bench.end_of_turn import score
from bench.end_of_turn_sweep import agree_judge, load_records, policy
from naila_protocol.framing import TurnVerdict

FRAMES_SPOKEN = 50  # 1.0 s of speech, then 2.2 s of silence


def write_record(path: Path, transcript: str, probability: float, at_ms: float) -> None:
    speech = [True] * FRAMES_SPOKEN + [False] * 110
    verdict = {"at_ms": at_ms, "complete": True, "audio_ms": 1150, "reason": "audio",
               "probability": probability, "transcript": transcript, "timings": {}}  # fmt: skip
    record = {"name": "one", "speech_end": 1.0, "paused": False, "speech": speech,
              "verdicts": [verdict]}  # fmt: skip
    path.write_text(json.dumps({"results": [], "records": [record]}))


def test_both_signals_agreeing_end_the_turn_at_the_verdict(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_record(path, "turn on the kitchen lights", 0.9, at_ms=1300.0)
    records = load_records(path)
    result = score(records, policy("agree", 0.5, 0.16, 1.0))
    assert result["false_cutoffs"] == 0
    assert 280 <= result["median_delay_ms"] <= 340  # the verdict's arrival, not the 1 s wait


def test_disagreement_waits(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_record(path, "turn on the kitchen lights", 0.2, at_ms=1300.0)
    result = score(load_records(path), policy("agree", 0.5, 0.16, 1.0))
    assert result["median_delay_ms"] >= 1900  # Smart Turn says not finished: the 2 s maximum
    judge = agree_judge(0.5, command_only=True)
    verdict = judge(TurnVerdict(True, 900, "audio", 0.95, "set the thermostat to"))
    assert verdict.complete is False


def test_smart_turn_replays_the_gateways_probability_and_the_text(tmp_path: Path) -> None:
    speech = [True] * FRAMES_SPOKEN + [False] * 110
    gateway = {"at_ms": 1180.0, "complete": None, "audio_ms": 1000, "reason": "gateway_audio",
               "probability": 0.8, "transcript": "", "timings": {}}  # fmt: skip
    text = {"at_ms": 1700.0, "complete": False, "audio_ms": 1150, "reason": "text_incomplete",
            "probability": None, "transcript": "set the thermostat to", "timings": {}}  # fmt: skip
    record = {"name": "one", "speech_end": 1.0, "paused": False, "speech": speech,
              "verdicts": [gateway, text]}  # fmt: skip
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"results": [], "records": [record]}))
    records = load_records(path)
    ended = score(records, policy("smart_turn", 0.5, 0.16, 1.0))["median_delay_ms"]
    assert 180 <= ended <= 220  # Smart Turn's answer at 180 ms ends it (min 160 ms)
    waited = score(records, policy("smart_turn", 0.9, 0.16, 1.0))["median_delay_ms"]
    assert waited >= 1900  # below the threshold: the 2 s maximum
    early = dict(gateway, at_ms=1800.0)  # the text arrives first: it holds the turn
    record["verdicts"] = [text, early]
    path.write_text(json.dumps({"results": [], "records": [record]}))
    held = score(load_records(path), policy("smart_turn", 0.5, 0.16, 1.0))["median_delay_ms"]
    assert held >= 1900
    alone = score(load_records(path), policy("smart_turn-alone", 0.5, 0.16, 1.0))
    assert 780 <= alone["median_delay_ms"] <= 820  # no text: ends on Smart Turn at 800 ms
