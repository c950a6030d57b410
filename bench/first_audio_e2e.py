"""End-to-end first audio: end of the user's speech -> first reply sound at the device.

The real stack on 127.0.0.1: mosquitto, `python -m wyoming_bridge` (bundled models),
`python -m naila_gateway`, and the simulated device (naila_sim) speaking espeak-ng requests
over WebRTC. Per turn: device-measured first audio (last speech frame leaving its mic ->
first voiced reply frame out of its decoder), split into the gateway's VAD hang-over, the
AI server's part (its END timings: STT, LLM to first sentence, TTS first chunk) and the
rest (transport: up-link, gateway queues, Opus, down-link, jitter buffers).
Anchor (same run, alternating turns): Home Assistant's Assist pipeline shape from
bench/anchor.py = 0.7 s HA VAD silence + wyoming-faster-whisper -> same LLM full reply ->
wyoming-piper first chunk. Goal: NAILA <= 0.5 x anchor.

    .venv/bin/python -m bench.first_audio_e2e --turns 12      # ~4 min
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

import numpy as np

from bench.anchor import HA_VAD_SILENCE_S, AnchorConfig, AnchorPipeline, AnchorTiming
from bench.cli import add_run_arguments, bench_utterances, parse_bench_args
from bench.gateway_procs import mosquitto
from bench.speech import Utterance, silence
from naila_demo.conversation import TurnError, TurnResult, run_turn
from naila_demo.speech import trim_silence
from naila_demo.stack import DemoStack, StackSettings
from naila_gateway.config import GatewayConfig
from naila_sim import SimDevice

_LOGGER = logging.getLogger("bench.first_audio_e2e")

GOAL = 0.5
FRAME_MS = 20


@dataclass(slots=True)
class NailaTurn:
    text: str
    result: TurnResult

    @property
    def e2e_ms(self) -> float:
        return float(self.result.first_audio_ms or float("nan"))

    def server(self, key: str) -> float:
        return float(self.result.timings.get(key, float("nan")))

    @property
    def llm_first_sentence_ms(self) -> float:
        """Server first audio minus STT and the first TTS chunk: LLM up to its first sentence."""
        t = self.server
        return t("first_audio_ms") - t("stt_ms") - t("tts_first_chunk_ms")


@dataclass(slots=True)
class Results:
    naila: list[NailaTurn] = field(default_factory=list)
    anchor: list[AnchorTiming] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    clean = [v for v in values if v == v]
    return float(np.percentile(clean, q)) if clean else float("nan")


def med(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.first_audio_e2e",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run = add_run_arguments(
        parser,
        turns=12,
        turns_help="measured NAILA turns, >= 10 for the goal",
        warmup=1,
        max_seconds=420.0,
    )
    run.add_argument(
        "--anchor-turns", type=int, default=6, help="measured anchor turns (default 6)"
    )
    run.add_argument("--no-anchor", action="store_true", help="skip the anchor (no ratio)")
    stack = parser.add_argument_group("NAILA stack")
    stack.add_argument(
        "--keep-history",
        action="store_true",
        help="let the server remember earlier turns (default off, as the anchor has none)",
    )
    stack.add_argument(
        "--server-arg", action="append", default=[], help="extra wyoming_bridge argument"
    )
    stack.add_argument(
        "--gateway-arg", action="append", default=[], help="extra naila_gateway argument"
    )
    stack.add_argument(
        "--keep-logs", type=Path, help="copy child logs and reply WAVs into this directory"
    )
    return parser  # fmt: skip


def hangover_ms(gateway_args: list[str]) -> float:
    """The gateway's AUDIO_SILENCE_FRAMES x 20 ms (its --silence-frames if given)."""
    frames = GatewayConfig.from_env().silence_frames
    for i, arg in enumerate(gateway_args):
        if arg.startswith("--silence-frames="):
            frames = int(arg.split("=", 1)[1])
        elif arg == "--silence-frames" and i + 1 < len(gateway_args):
            frames = int(gateway_args[i + 1])
    return frames * FRAME_MS


async def naila_turns(
    device: SimDevice, utterances: list[Utterance], count: int, out_dir: Path,
    results: Results | None, deadline: float, first_number: int = 1,
) -> None:  # fmt: skip
    for i in range(count):
        number = first_number + i
        if time.monotonic() > deadline:
            print(f"--max-seconds reached after {i} NAILA turns", flush=True)
            return
        u = utterances[i % len(utterances)]
        speech = trim_silence(np.frombuffer(u.pcm48k, dtype="<i2"))
        try:
            result = await run_turn(device, speech, number, out_dir, within_s=60.0)
        except (TurnError, TimeoutError) as err:
            if results is not None:
                results.failures.append(f"{u.text!r}: {err}")
            continue
        if results is not None:
            results.naila.append(NailaTurn(u.text, result))
            print(f"  naila {number:2d} {result.first_audio_ms or float('nan'):6.0f} ms  "
                  f"{result.transcript!r} -> {result.reply[:60]!r}", flush=True)  # fmt: skip
        await asyncio.sleep(0.5)


async def anchor_turns(
    anchor: AnchorPipeline, utterances: list[Utterance], count: int, results: Results | None,
    first_number: int = 1,
) -> None:  # fmt: skip
    for i in range(count):
        u = utterances[i % len(utterances)]
        timing = await anchor.measure(u.pcm16k + silence(HA_VAD_SILENCE_S, 16000))
        if results is not None:
            results.anchor.append(timing)
            print(
                f"  anchor {first_number + i:2d} {timing.end_to_end_ms:6.0f} ms  {timing.transcript!r}",
                flush=True,
            )


async def run_bench(args: argparse.Namespace) -> Results:
    utterances = await bench_utterances(args)
    results = Results()
    server_args = [
        *([] if args.keep_history else ["--history-turns", "0"]),
        "--no-vision",  # voice only: no detector models loading beside the measurement
        *args.server_arg,
    ]
    async with contextlib.AsyncExitStack() as stack:
        out_dir = args.keep_logs or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-e2e-"))
        )
        port = await stack.enter_async_context(mosquitto())
        settings = StackSettings(
            out_dir=out_dir, mqtt_host="127.0.0.1", mqtt_port=port, log_level=args.log_level.upper(),
            server_args=server_args,
            gateway_args=["--reply-timeout", "60", *args.gateway_arg],
        )  # fmt: skip
        anchor_cm = (
            contextlib.nullcontext(None)
            if args.no_anchor
            else AnchorPipeline(AnchorConfig.packaged())
        )
        print("starting the NAILA stack and the anchor servers ...", flush=True)
        async with (
            DemoStack(settings) as naila,
            anchor_cm as anchor,
            SimDevice(naila.device_config("bench-e2e")) as device,
        ):
            await device.wait_connected(30.0)
            print("warming up ...", flush=True)
            deadline = time.monotonic() + args.max_seconds
            await naila_turns(device, utterances, args.warmup, out_dir, None, deadline)
            if anchor is not None:
                await anchor_turns(anchor, utterances, args.warmup, None)
            # alternate blocks so both systems share the machine's noise
            done_n = done_a = 0
            while done_n < args.turns or (anchor is not None and done_a < args.anchor_turns):
                if time.monotonic() > deadline:
                    print("--max-seconds reached", flush=True)
                    break
                if done_n < args.turns:
                    n = min(3, args.turns - done_n)
                    await naila_turns(device, utterances[done_n % len(utterances):] + utterances,
                                      n, out_dir, results, deadline, done_n + 1)  # fmt: skip
                    done_n += n
                if anchor is not None and done_a < args.anchor_turns:
                    n = min(2, args.anchor_turns - done_a)
                    await anchor_turns(anchor, utterances[done_a % len(utterances):] + utterances,
                                       n, results, done_a + 1)  # fmt: skip
                    done_a += n
    return results


def report(args: argparse.Namespace, results: Results) -> None:
    turns = results.naila
    hang = hangover_ms(args.gateway_arg)
    e2e = [t.e2e_ms for t in turns]
    server = [t.server("first_audio_ms") for t in turns]
    rows = [
        ("end to end at the device", e2e),
        ("  VAD hang-over (config)", [hang for _ in turns]),
        ("  AI server first audio", server),
        ("    STT", [t.server("stt_ms") for t in turns]),
        ("    LLM to first sentence", [t.llm_first_sentence_ms for t in turns]),
        ("    TTS first chunk", [t.server("tts_first_chunk_ms") for t in turns]),
        ("  transport (rest)", [a - hang - s for a, s in zip(e2e, server, strict=True)]),
        (
            "gateway's own first audio",
            [float(t.result.gateway_first_audio_ms or "nan") for t in turns],
        ),
    ]
    print()
    print(f"NAILA end to end, {len(turns)} turns ({len(results.failures)} failed), ms:")
    print(f"{'':28} {'median':>7} {'p95':>7}")
    for name, values in rows:
        print(f"{name:28} {med(values):7.0f} {pct(values, 95):7.0f}")
    for failure in results.failures:
        print(f"  failed: {failure}")
    if not results.anchor:
        print("\nno anchor measured (--no-anchor)")
        return
    a_e2e = [t.end_to_end_ms for t in results.anchor]
    print()
    print(f"anchor (HA Assist shape) {len(results.anchor)} turns, ms: median {med(a_e2e):.0f}, "
          f"p95 {pct(a_e2e, 95):.0f} = {HA_VAD_SILENCE_S * 1000:.0f} VAD silence + STT "
          f"{med([t.stt_ms for t in results.anchor]):.0f} + LLM full reply "
          f"{med([t.llm_ms for t in results.anchor]):.0f} + TTS first chunk")  # fmt: skip
    ratio = med(e2e) / med(a_e2e)
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"ratio NAILA / anchor (medians): {ratio:.2f}   p95: {pct(e2e, 95) / pct(a_e2e, 95):.2f}   "
          f"(goal <= {GOAL}: {verdict})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_bench_args(build_parser(), argv)
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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
