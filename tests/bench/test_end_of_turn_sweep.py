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
