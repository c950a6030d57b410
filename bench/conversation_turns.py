"""First audio per turn of a conversation on ONE device id, conversation KV cache on and off.

People talk to one device many times; its conversation memory grows. This bench holds
16-turn conversations on one device id through the real stack, twice side by side: two
stacks on one mosquitto (topic prefixes `bench-kv-on` / `bench-kv-off`), each a
`python -m wyoming_bridge` (`--llm-kv-cache` / `--no-llm-kv-cache`, default history) and
a `python -m naila_gateway`, each with a simulated WebRTC device (naila_sim). Turns
alternate between the two (the order flips every turn) so they share the machine's noise.

Per turn index: median first audio at the device (last speech frame leaving its mic ->
first voiced reply frame out of its decoder) and the server's `llm_first_token_ms`.
Goal: with the cache on, median first audio of turns 12-16 <= 1.1 x turns 1-4.

    .venv/bin/python -m bench.conversation_turns                # 16 turns, ~6-10 min
    .venv/bin/python -m bench.conversation_turns --conversations 2 --turns 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

import numpy as np

from bench.cli import add_run_arguments, parse_bench_args
from bench.gateway_procs import mosquitto
from bench.speech import Utterance, make_utterances
from naila_demo.conversation import TurnError, run_turn
from naila_demo.speech import trim_silence
from naila_demo.stack import DemoStack, StackSettings
from naila_sim import SimDevice

GOAL = 1.1
EARLY = range(1, 5)
LATE = range(12, 17)
CONVERSATION = (
    "what time is it",
    "turn on the kitchen lights",
    "what's the weather like tomorrow",
    "set a timer for ten minutes",
    "tell me a joke about cats",
    "is the front door locked",
    "dim the living room lights to half",
    "what should I cook for dinner tonight",
    "how long do I boil an egg",
    "play some relaxing music",
    "remind me to call my sister",
    "what's a good name for a cat",
    "how far away is the moon",
    "turn off the bedroom fan",
    "what day is it today",
    "thank you, good night",
)
VARIANTS = {"on": "--llm-kv-cache", "off": "--no-llm-kv-cache"}


@dataclass(slots=True)
class Turn:
    variant: str
    index: int
    first_audio_ms: float
    timings: dict[str, float]
    transcript: str
    reply: str


@dataclass(slots=True)
class Results:
    turns: list[Turn] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def values(self, variant: str, indexes: range, key: str | None = None) -> list[float]:
        return [
            t.first_audio_ms if key is None else t.timings.get(key, float("nan"))
            for t in self.turns
            if t.variant == variant and t.index in indexes
        ]


def med(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.conversation_turns",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run = add_run_arguments(
        parser, turns=16, turns_help="turns per conversation", warmup=1, max_seconds=1800.0
    )
    run.add_argument("--conversations", type=int, default=1, help="conversations per variant")
    run.add_argument(
        "--variant", action="append", choices=sorted(VARIANTS), help="default: on and off"
    )
    parser.add_argument(
        "--server-arg", action="append", default=[], help="extra wyoming_bridge argument"
    )
    parser.add_argument("--keep-logs", type=Path, help="keep child logs and reply WAVs here")
    return parser


async def one_turn(
    variant: str, device: SimDevice, u: Utterance, index: int, out: Path, results: Results
) -> None:
    speech = trim_silence(np.frombuffer(u.pcm48k, dtype="<i2"))
    try:
        result = await run_turn(device, speech, index, out / variant, within_s=90.0)
    except (TurnError, TimeoutError) as err:
        results.failures.append(f"{variant} turn {index} {u.text!r}: {err!r}")
        return
    turn = Turn(
        variant, index, float(result.first_audio_ms or "nan"), result.timings,
        result.transcript, result.reply,
    )  # fmt: skip
    results.turns.append(turn)
    print(
        f"  {variant:3} turn {index:2d}  first audio {turn.first_audio_ms:6.0f} ms  llm first "
        f"token {turn.timings.get('llm_first_token_ms', float('nan')):6.0f} ms  "
        f"{result.transcript!r} -> {result.reply[:50]!r}",
        flush=True,
    )


async def run_bench(args: argparse.Namespace) -> Results:
    texts = tuple(args.utterances or CONVERSATION)
    utterances = await asyncio.to_thread(make_utterances, texts)
    variants = args.variant or ["on", "off"]
    results = Results()
    async with contextlib.AsyncExitStack() as stack:
        out = args.keep_logs or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-conv-"))
        )
        port = await stack.enter_async_context(mosquitto())
        stacks: dict[str, DemoStack] = {}
        print(f"starting {len(variants)} NAILA stacks ...", flush=True)
        for variant in variants:
            (out / variant).mkdir(parents=True, exist_ok=True)
            settings = StackSettings(
                out_dir=out / variant, mqtt_host="127.0.0.1", mqtt_port=port,
                prefix=f"bench-kv-{variant}", log_level=args.log_level.upper(),
                server_args=["--no-vision", VARIANTS[variant], *args.server_arg],
                gateway_args=["--reply-timeout", "60"],
            )  # fmt: skip
            stacks[variant] = await stack.enter_async_context(DemoStack(settings))
        deadline = time.monotonic() + args.max_seconds
        if args.warmup:
            print(f"warming up ({args.warmup} turns each on another device id) ...", flush=True)
            async with contextlib.AsyncExitStack() as devices:
                for variant, demo in stacks.items():
                    sim = await devices.enter_async_context(
                        SimDevice(demo.device_config("bench-warmup"))
                    )
                    await sim.wait_connected(30.0)
                    for i in range(args.warmup):
                        await one_turn(variant, sim, utterances[i], 0, out, Results())
        for conversation in range(args.conversations):
            async with contextlib.AsyncExitStack() as devices:
                device_id = f"bench-conversation-{conversation + 1}"
                sims = {
                    v: await devices.enter_async_context(SimDevice(s.device_config(device_id)))
                    for v, s in stacks.items()
                }
                for sim in sims.values():
                    await sim.wait_connected(30.0)
                print(f"conversation {conversation + 1} on device {device_id}", flush=True)
                for index in range(1, args.turns + 1):
                    if time.monotonic() > deadline:
                        print("--max-seconds reached", flush=True)
                        return results
                    order = variants if index % 2 else variants[::-1]
                    u = utterances[(index - 1) % len(utterances)]
                    for variant in order:
                        await one_turn(variant, sims[variant], u, index, out, results)
                        await asyncio.sleep(0.3)
    return results


def report(args: argparse.Namespace, results: Results) -> None:
    variants = args.variant or ["on", "off"]
    print("\nper turn index, medians (ms): first audio at the device / llm_first_token_ms")
    print("turn " + "".join(f"{'kv ' + v + ' audio':>14}{'llm':>7}" for v in variants))
    for index in range(1, args.turns + 1):
        cells = [
            f"{med(results.values(v, range(index, index + 1))):14.0f}"
            f"{med(results.values(v, range(index, index + 1), 'llm_first_token_ms')):7.0f}"
            for v in variants
        ]
        print(f"{index:4d} " + "".join(cells))
    print()
    for variant in variants:
        early, late = results.values(variant, EARLY), results.values(variant, LATE)
        llm_early = results.values(variant, EARLY, "llm_first_token_ms")
        llm_late = results.values(variant, LATE, "llm_first_token_ms")
        ratio = med(late) / med(early)
        verdict = "meets" if ratio <= GOAL else "misses"
        print(
            f"kv {variant:3}: first audio turns 12-16 {med(late):.0f} ms / turns 1-4 "
            f"{med(early):.0f} ms = {ratio:.2f} (goal <= {GOAL}: {verdict});  llm first token "
            f"{med(llm_late):.0f} / {med(llm_early):.0f} ms = {med(llm_late) / med(llm_early):.2f}"
        )
    for failure in results.failures:
        print(f"  failed: {failure}")


def main(argv: list[str] | None = None) -> int:
    args = parse_bench_args(build_parser(), argv)
    started = time.monotonic()
    try:
        results = asyncio.run(run_bench(args))
    except KeyboardInterrupt:
        print("interrupted; everything stopped", file=sys.stderr)
        return 130
    report(args, results)
    print(f"\nbench wall time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
