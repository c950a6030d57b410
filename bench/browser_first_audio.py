"""First audio measured IN a real browser: last speech sample -> first reply sample it hears.

The real stack (mosquitto, `python -m wyoming_bridge` with the bundled models, the gateway
with its device page) and headless Chromium on the page as shipped, talking over WHIP on one
device id. The page times each turn on its own audio clock (web/meter-worklet.js: the last
microphone block above -40 dBFS before the gateway's `utterance` event -> the first reply
block above the "heard" threshold). Beside it, in the same run and alternating blocks: the
simulated device (naila_sim, its own first-audio figure) and the anchor (bench/anchor.py,
Home Assistant's Assist pipeline shape). Runs inside scripts/in-netns (re-executes itself
there): no WebRTC packet leaves the machine.

    .venv/bin/python -m bench.browser_first_audio --turns 12      # ~6 min
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

import numpy as np

from bench.anchor import HA_VAD_SILENCE_S, AnchorConfig, AnchorPipeline, AnchorTiming
from bench.cli import add_run_arguments, bench_utterances, parse_bench_args
from bench.first_audio_e2e import Results as SimResults
from bench.first_audio_e2e import anchor_turns, med, naila_turns, pct
from bench.gateway_procs import mosquitto
from bench.speech import Utterance
from naila_demo.speech import trim_silence
from naila_demo.stack import DemoStack, StackSettings
from naila_sim import SimDevice
from naila_sim.mic import RATE
from tests.browser.page_driver import BrowserPage, launch_browser

REPO = Path(__file__).resolve().parents[1]
_LOGGER = logging.getLogger("bench.browser_first_audio")


GOAL_MEDIAN, GOAL_P95 = 0.4, 0.5
"""Browser / anchor first audio: median and p95 goals."""
BLOCK = 4
"""Turns per row of the per-turn-index table (turns 1-4, 5-8, ...)."""


@dataclass(slots=True)
class BrowserTurn:
    number: int
    text: str
    heard_ms: float
    gateway_ms: float
    transcript: str
    server: dict[str, float] = field(default_factory=dict)
    """The server's END timings (stt_ms, first_audio_ms, tts_first_chunk_ms, ...)."""
    gateway: dict[str, float] = field(default_factory=dict)
    """The gateway's split of its first_audio_ms (end_of_speech_ms, server_ms, playout_ms)."""

    def stage(self, key: str) -> float:
        value = self.server.get(key, self.gateway.get(key))
        return float(value) if value is not None else float("nan")

    @property
    def llm_first_sentence_ms(self) -> float:
        """Server first audio minus STT and the first TTS chunk: LLM up to its first sentence."""
        return (
            self.stage("first_audio_ms") - self.stage("stt_ms") - self.stage("tts_first_chunk_ms")
        )


@dataclass(slots=True)
class Results:
    browser: list[BrowserTurn] = field(default_factory=list)
    sim: SimResults = field(default_factory=SimResults)
    anchor: list[AnchorTiming] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def wav_bytes(u: Utterance) -> bytes:
    speech = trim_silence(np.frombuffer(u.pcm48k, dtype="<i2"))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(speech.astype("<i2").tobytes())
    return out.getvalue()


async def browser_turns(
    page: BrowserPage, utterances: list[Utterance], count: int, results: Results | None,
    first_number: int = 1,
) -> None:  # fmt: skip
    for i in range(count):
        u = utterances[i % len(utterances)]
        done = int(await page.page.evaluate("nailaPage.turns.length"))
        await page.say(wav_bytes(u))
        try:
            turn = await page.wait(
                f"nailaPage.turns.length > {done} && nailaPage.turns[{done}].heard_ms !== null"
                f" && nailaPage.turns[{done}]",
                within=90,
            )
        except Exception as err:  # playwright TimeoutError: report the turn, go on
            if results is not None:
                results.failures.append(f"browser {u.text!r}: {err}")
            continue
        await page.wait("nailaPage.state === 'listening'", within=120)  # the reply finished
        if results is not None:
            results.browser.append(
                BrowserTurn(first_number + i, u.text, float(turn["heard_ms"]),
                            float(turn["first_audio_ms"] or "nan"), str(turn["transcript"]),
                            _numbers(turn.get("timings")), _numbers(turn.get("gateway_timings")))
            )  # fmt: skip
            print(f"  browser {first_number + i:2d} {turn['heard_ms']:6.0f} ms "
                  f"(gateway {turn['first_audio_ms'] or float('nan'):5.0f})  "
                  f"{turn['transcript']!r} -> {turn['reply'][:50]!r}", flush=True)  # fmt: skip
        await asyncio.sleep(0.5)


def _numbers(raw: object) -> dict[str, float]:
    """The numeric fields of a timings object from the page (anything else dropped)."""
    if not isinstance(raw, dict):
        return {}
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}


async def run_bench(args: argparse.Namespace) -> Results:
    utterances = await bench_utterances(args)
    results = Results()
    async with contextlib.AsyncExitStack() as stack:
        out_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-browser-")))
        port = await stack.enter_async_context(mosquitto())
        settings = StackSettings(
            out_dir=out_dir, mqtt_host="127.0.0.1", mqtt_port=port, log_level=args.log_level.upper(),
            server_args=[*([] if args.keep_history else ["--history-turns", "0"]), "--no-vision"],
            # the namespace's veth addresses too (Chromium may pair on them)
            gateway_args=["--reply-timeout", "60", "--ice-addresses", "127.0.0.1,198.18.0.0/24"],
        )  # fmt: skip
        print("starting the NAILA stack, Chromium and the anchor servers ...", flush=True)
        naila = await stack.enter_async_context(DemoStack(settings))
        browser = await stack.enter_async_context(launch_browser())
        anchor = None
        if not args.no_anchor:
            anchor = await stack.enter_async_context(AnchorPipeline(AnchorConfig.packaged()))
        device = await stack.enter_async_context(SimDevice(naila.device_config("bench-sim")))
        await device.wait_connected(30.0)
        page = await BrowserPage.open(browser, naila.page_url, "bench browser", out_dir)
        stack.push_async_callback(page.close)
        await page.start()
        print(f"browser device id {page.device_id}; warming up ...", flush=True)
        deadline = time.monotonic() + args.max_seconds
        await browser_turns(page, utterances, args.warmup, None)
        await naila_turns(device, utterances, args.warmup, out_dir, None, deadline)
        if anchor is not None:
            await anchor_turns(anchor, utterances, args.warmup, None)
        done = 0
        while done < args.turns and time.monotonic() < deadline:  # alternate: shared noise
            n = min(3, args.turns - done)
            rotated = utterances[done % len(utterances) :] + utterances
            await browser_turns(page, rotated, n, results, done + 1)
            await naila_turns(device, rotated, n, out_dir, results.sim, deadline, done + 1)
            if anchor is not None:
                await anchor_turns(anchor, rotated, n, results.sim, done + 1)
            done += n
        results.anchor = results.sim.anchor
        results.failures += results.sim.failures
        errors = page.console_errors
        if errors:
            results.failures.append(f"console errors on the page: {errors}")
    return results


def report(results: Results) -> None:
    heard = [t.heard_ms for t in results.browser]
    gateway = [t.gateway_ms for t in results.browser]
    sim = [t.e2e_ms for t in results.sim.naila]
    anchor = [t.end_to_end_ms for t in results.anchor]
    print()
    print(f"first audio, ms ({len(results.failures)} failed):")
    print(f"{'':44} {'turns':>5} {'median':>7} {'p95':>7}")
    rows = [
        ("browser: heard in the page (one device id)", heard),
        ("  the gateway's first_audio_ms, same turns", gateway),
        ("simulated device (naila_sim)", sim),
        ("anchor (HA Assist shape, bench/anchor.py)", anchor),
    ]
    for name, values in rows:
        print(f"{name:44} {len(values):5d} {med(values):7.0f} {pct(values, 95):7.0f}")
    print()
    print(f"ratio browser / simulated device (medians): {med(heard) / med(sim):.2f}")
    if anchor:
        print(f"ratio browser / anchor (medians):           {med(heard) / med(anchor):.2f}")
        print(f"ratio simulated device / anchor (medians):  {med(sim) / med(anchor):.2f}")
        median_ratio = med(heard) / med(anchor)
        p95_ratio = pct(heard, 95) / pct(anchor, 95)
        for what, ratio, goal in (
            ("median", median_ratio, GOAL_MEDIAN),
            ("p95", p95_ratio, GOAL_P95),
        ):
            verdict = "meets" if ratio <= goal else "misses"
            print(f"browser / anchor {what}: {ratio:.2f} (goal <= {goal}: {verdict})")
    report_stages(results)
    for failure in results.failures:
        print(f"  failed: {failure}")


def report_stages(results: Results) -> None:
    """Medians of each stage of the browser turns and the anchor's; per turn index."""
    turns = results.browser
    if not turns:
        return
    stages: list[tuple[str, Callable[[BrowserTurn], float]]] = [
        ("gateway hang-over (end_of_speech_ms)", lambda t: t.stage("end_of_speech_ms")),
        ("  server STT (stt_ms)", lambda t: t.stage("stt_ms")),
        ("  server LLM to first sentence", lambda t: t.llm_first_sentence_ms),
        ("  server TTS first chunk", lambda t: t.stage("tts_first_chunk_ms")),
        ("server first audio (first_audio_ms)", lambda t: t.stage("first_audio_ms")),
        ("gateway: sent -> first reply frame", lambda t: t.stage("server_ms")),
        ("gateway: first frame -> on the track", lambda t: t.stage("playout_ms")),
        ("gateway first_audio_ms", lambda t: t.gateway_ms),
        ("browser after the gateway (WebRTC, page)", lambda t: t.heard_ms - t.gateway_ms),
        ("heard in the browser", lambda t: t.heard_ms),
    ]
    print(f"\nper stage, browser turns (ms)       {'median':>7} {'p95':>7}")
    for name, get in stages:
        values = [get(t) for t in turns]
        print(f"{name:40} {med(values):7.0f} {pct(values, 95):7.0f}")
    anchor = results.anchor
    if anchor:
        print(f"anchor: STT {med([a.stt_ms for a in anchor]):.0f}, LLM whole reply "
              f"{med([a.llm_ms for a in anchor]):.0f}, server {med([a.server_ms for a in anchor]):.0f}"
              f" + HA's {HA_VAD_SILENCE_S * 1000:.0f} ms silence")  # fmt: skip
    print(f"\nper turn index          {'heard':>6} {'gateway':>7} {'STT':>5} {'LLM 1st':>7}")
    for t in turns:
        print(f"  turn {t.number:2d}              {t.heard_ms:6.0f} {t.gateway_ms:7.0f} "
              f"{t.stage('stt_ms'):5.0f} {t.llm_first_sentence_ms:7.0f}")  # fmt: skip
    last = max(t.number for t in turns)
    for first in range(1, last + 1, BLOCK):
        block = [t for t in turns if first <= t.number < first + BLOCK]
        if block:
            print(f"  median turns {first:2d}-{first + BLOCK - 1:2d}     "
                  f"{med([t.heard_ms for t in block]):6.0f} {med([t.gateway_ms for t in block]):7.0f} "
                  f"{med([t.stage('stt_ms') for t in block]):5.0f} "
                  f"{med([t.llm_first_sentence_ms for t in block]):7.0f}")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.browser_first_audio",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run = add_run_arguments(
        parser, turns=12, turns_help="measured turns per system", warmup=1, max_seconds=900.0
    )
    run.add_argument("--no-anchor", action="store_true", help="skip the anchor (no ratio)")
    run.add_argument(
        "--keep-history",
        action="store_true",
        help="the server remembers earlier turns, as in a real conversation (default off, as "
        "the anchor has none)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("NAILA_IN_NETNS") != "1":
        command = [
            str(REPO / "scripts" / "in-netns"),
            sys.executable,
            "-m",
            "bench.browser_first_audio",
        ]
        os.execv(command[0], [*command, *(sys.argv[1:] if argv is None else argv)])
    args = parse_bench_args(build_parser(), argv)
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    started = time.monotonic()
    try:
        results = asyncio.run(run_bench(args))
    except KeyboardInterrupt:
        print("interrupted; everything stopped", file=sys.stderr)
        return 130
    report(results)
    print(f"\nbench wall time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
