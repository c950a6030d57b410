"""Sweep of semantic end-of-turn policies over one recorded live pass (bench/end_of_turn.py).

    python -m bench.end_of_turn --json run.json        # the live pass, recorded
    python -m bench.end_of_turn_sweep run.json         # every policy replayed on it

Each policy is a rule that turns what the server knew at a pause (its speculative
transcript and Smart Turn's probability) into a verdict, with the gateway's minimum silence
after "complete" and its verdict wait; the replay is the gateway's own detector and gate
(`bench.end_of_turn.replay`). Rules: `text` (text rules alone), `audio` (Smart Turn alone),
`text+audio` (text rules, Smart Turn for neutral clauses: the server's), `agree` (end early
only when the text is not waiting for more AND Smart Turn says finished, else wait) and
`agree-command` (the same, but the text must be a whole command).
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

import numpy as np

from bench.end_of_turn import Judge, Policy, Record, judge_with, score
from naila_gateway.end_of_turn import EndOfTurnMode, EndOfTurnSettings
from naila_protocol.framing import TurnVerdict

RULES = ("text", "audio", "text+audio", "agree", "agree-command")
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
        records.append(Record(sample, list(item["speech"]), verdicts))  # type: ignore[arg-type]
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


def verdict_latency(records: list[Record]) -> str:
    """When the first verdict after the last spoken sample arrived (ms after that sample)."""
    late = []
    for record in records:
        end = record.sample.speech_end * 1000
        after = [at - end for at, v in record.verdicts if v.audio_ms >= end - 20]
        if after:
            late.append(min(after))
    if not late:
        return "no verdicts after the last spoken sample"
    return (
        f"final verdict after the last spoken sample: median {np.median(late):.0f} ms, "
        f"min {min(late):.0f}, p90 {np.percentile(late, 90):.0f} ({len(late)}/{len(records)})"
    )


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
    args = parser.parse_args(argv)
    records = load_records(args.records)
    results = sweep(records, args.rule or RULES)
    paused = sum(r.sample.paused for r in records)
    print(f"{len(records)} utterances ({paused} paused mid-sentence); {verdict_latency(records)}")
    print("\n| policy | false cut-offs | median delay | p90 |\n|---|---|---|---|")
    for r in results[:2]:
        print(_row(r))
    semantic = results[2:]
    print(f"\nbest per rule (fewest false cut-offs, then median delay), of {len(semantic)}:")
    for rule in args.rule or RULES:
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
