"""Sweep of semantic end-of-turn policies over one recorded live pass (bench/end_of_turn.py).

    python -m bench.end_of_turn --json run.json        # the live pass, recorded
    python -m bench.end_of_turn_sweep run.json         # every policy replayed on it

Each policy is a rule that turns what the server knew at a pause (its speculative
transcript and Smart Turn's probability) into a verdict, with the gateway's minimum silence
after "complete" and its verdict wait; the replay is the gateway's own detector and gate
(`bench.end_of_turn.replay`). Rules: `text` (text rules alone), `audio` (Smart Turn alone),
`text+audio` (text rules, Smart Turn for neutral clauses: the server's), `agree` (end early
only when the text is not waiting for more AND Smart Turn says finished, else wait) and
`agree-command` (the same, but the text must be a whole command); on a pass recorded with
`--live smart_turn`: `smart_turn` (the gateway's Smart Turn at the pause, the server's text
verdicts holding or ending the turn when they come) and `smart_turn-alone` (no text).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

from bench.end_of_turn import (
    GATEWAY_AUDIO,
    Judge,
    Policy,
    Record,
    judge_with,
    score,
    smart_turn_policy,
    verdict_latency,
)
from naila_gateway.end_of_turn import EndOfTurnMode, EndOfTurnSettings
from naila_protocol.framing import TurnVerdict

RULES = ("text", "audio", "text+audio", "agree", "agree-command", "smart_turn", "smart_turn-alone")
SERVER_AUDIO_RULES = ("audio", "text+audio", "agree", "agree-command")
"""Rules that read the server's Smart Turn probability (absent from a smart_turn pass)."""
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)
MIN_SILENCES = (0.1, 0.16, 0.2)
WAITS = (0.4, 0.7, 1.0)
GOAL_CUTOFFS, GOAL_DELAY_MS = 0.05, 250.0


class ReplayedSample:
    """What `score` needs of a bench utterance: its name, last spoken sample and pause."""

    def __init__(self, name: str, speech_end: float, paused: bool) -> None:
        self.name = name
        self.speech_end = speech_end
        self.paused = paused


def load_records(path: Path) -> list[Record]:
    """The timelines `bench.end_of_turn --json` wrote (VAD per frame, verdicts with arrival)."""
    data = json.loads(path.read_text())
    records = []
    for item in data["records"]:
        if "speech_end" not in item:
            raise SystemExit(f"{path}: recorded by an older bench (no speech_end); record again")
        sample = ReplayedSample(item["name"], item["speech_end"], item["paused"])
        verdicts = [
            (
                float(v["at_ms"]),
                TurnVerdict(
                    v["complete"], v["audio_ms"], v["reason"], v["probability"],
                    v["transcript"], dict(v["timings"]),
                ),
            )
            for v in item["verdicts"]
        ]  # fmt: skip
        offset = item.get("offset_ms")
        records.append(Record(sample, list(item["speech"]), verdicts, offset))  # type: ignore[arg-type]
    return records


def agree_judge(threshold: float, *, command_only: bool) -> Judge:
    """Complete only when the text allows it and Smart Turn's probability reaches threshold."""
    from wyoming_bridge.turn_text import TextTurn, classify  # noqa: PLC0415

    allowed = {TextTurn.COMMAND} if command_only else {TextTurn.COMMAND, TextTurn.NEUTRAL}

    def judge(verdict: TurnVerdict) -> TurnVerdict:
        text = classify(verdict.transcript)
        p = verdict.probability
        if text is TextTurn.EMPTY or p is None:
            return TurnVerdict(None, verdict.audio_ms, "no_opinion", p)
        complete = text in allowed and p >= threshold
        return TurnVerdict(complete, verdict.audio_ms, "agree", p)

    return judge


def policy(rule: str, threshold: float, min_silence: float, wait: float) -> Policy:
    if rule.startswith("smart_turn"):
        return smart_turn_policy(threshold, min_silence, 2.0, wait, text=rule == "smart_turn")
    settings = EndOfTurnSettings(
        EndOfTurnMode.SEMANTIC, min_silence_s=min_silence, max_silence_s=2.0, verdict_wait_s=wait
    )
    if rule.startswith("agree"):
        judge = agree_judge(threshold, command_only=rule == "agree-command")
    else:
        judge = judge_with(rule, threshold)
    name = f"{rule} p>={threshold:g} min {min_silence * 1000:.0f} wait {wait * 1000:.0f}"
    return Policy(name, settings, 15, judge, rule == "audio")


def sweep(records: list[Record], rules: Iterable[str]) -> list[dict[str, Any]]:
    results = []
    fixed = EndOfTurnSettings()
    for name, frames in (("fixed 300 ms", 15), ("HA fixed 700 ms", 35)):
        results.append(score(records, Policy(name, fixed, frames)))
    for rule, threshold, min_silence, wait in itertools.product(
        rules, THRESHOLDS, MIN_SILENCES, WAITS
    ):
        if rule == "text" and threshold != THRESHOLDS[0]:
            continue  # the text rules take no threshold
        results.append(score(records, policy(rule, threshold, min_silence, wait)))
    return results


def arriving_after(records: list[Record], pause_ms: float) -> list[Record]:
    """The same records with every gateway Smart Turn answer arriving `pause_ms` after its
    pause began: what the policies would do if the model took no time (its accuracy alone)."""
    out = []
    for record in records:
        verdicts = [
            (v.audio_ms + pause_ms if v.reason == GATEWAY_AUDIO else at, v)
            for at, v in record.verdicts
        ]
        out.append(Record(record.sample, record.speech, verdicts, record.offset_ms))
    return out


def recorded_rules(records: list[Record], rules: Iterable[str]) -> list[str]:
    """The rules this pass has the signals for."""
    verdicts = [v for r in records for _, v in r.verdicts]
    gateway = any(v.reason == GATEWAY_AUDIO for v in verdicts)
    server_audio = any(v.probability is not None for v in verdicts if v.reason != GATEWAY_AUDIO)
    return [
        rule
        for rule in rules
        if (gateway or not rule.startswith("smart_turn"))
        and (server_audio or rule not in SERVER_AUDIO_RULES)
    ]


def _row(r: dict[str, Any]) -> str:
    median = r["median_delay_ms"]
    shown = "-" if median is None else f"{median:.0f}"
    return (
        f"| {r['policy']} | {r['false_cutoffs']}/{r['utterances']} "
        f"({100 * r['false_cutoff_rate']:.1f} %) | {shown} ms | {r['p90_delay_ms'] or 0:.0f} ms |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.end_of_turn_sweep", description=__doc__)
    parser.add_argument("records", type=Path, help="JSON written by bench.end_of_turn --json")
    parser.add_argument("--rule", action="append", choices=RULES, help="rules to sweep (all)")
    parser.add_argument("--top", type=int, default=12, help="rows of the best policies shown")
    parser.add_argument(
        "--model-free-at",
        type=float,
        metavar="MS",
        help="replay the gateway's Smart Turn answers as if they arrived MS after their pause "
        "began (the model's own time and the machine's load removed)",
    )
    args = parser.parse_args(argv)
    records = load_records(args.records)
    if args.model_free_at is not None:
        records = arriving_after(records, args.model_free_at)
        print(f"gateway Smart Turn answers replayed {args.model_free_at:.0f} ms into each pause")
    rules = recorded_rules(records, args.rule or RULES)
    results = sweep(records, rules)
    paused = sum(r.sample.paused for r in records)
    print(f"{len(records)} utterances ({paused} paused mid-sentence); {verdict_latency(records)}")
    print("\n| policy | false cut-offs | median delay | p90 |\n|---|---|---|---|")
    for r in results[:2]:
        print(_row(r))
    semantic = results[2:]
    print(f"\nbest per rule (fewest false cut-offs, then median delay), of {len(semantic)}:")
    for rule in rules:
        mine = [r for r in semantic if r["policy"].startswith(rule + " ")]
        if mine:
            print(_row(min(mine, key=_rank)))
    print(f"\nthe {args.top} best overall:")
    for r in sorted(semantic, key=_rank)[: args.top]:
        print(_row(r))
    met = [
        r
        for r in semantic
        if r["false_cutoff_rate"] <= GOAL_CUTOFFS and (r["median_delay_ms"] or 1e9) <= GOAL_DELAY_MS
    ]
    print(
        f"\npolicies meeting both goals (<= {GOAL_CUTOFFS:.0%} false cut-offs, median <= "
        f"{GOAL_DELAY_MS:.0f} ms): {len(met)}"
    )
    for r in sorted(met, key=_rank)[: args.top]:
        print(_row(r))
    lowest = min(semantic, key=lambda r: r["median_delay_ms"] or 1e9)
    print(f"\nshortest median delay of any semantic policy: {_row(lowest)}")
    return 0


def _rank(r: dict[str, Any]) -> tuple[int, float]:
    return (r["false_cutoffs"], r["median_delay_ms"] or 1e9)


if __name__ == "__main__":
    sys.exit(main())
