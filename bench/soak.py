"""Soak: many simulated devices talk for minutes while the AI server and the broker restart.

The real stack on loopback, in a private network namespace (`unshare -n`): mosquitto,
`python -m wyoming_bridge`, `python -m naila_gateway`, and `--devices` simulated devices
speaking espeak-ng requests over WebRTC with pauses, some of them barging in over the reply.
In the middle the AI server is restarted (clean stop, start) and later the broker. Checked:

- every utterance is answered (reply audio heard) or reported to its device
  (`server_unavailable`, `reply_timeout`, `error`) or interrupted by the device's own barge-in:
  none silently lost;
- RSS, open files, threads and asyncio tasks of gateway and server: the median of the
  minute after `--baseline-minute` against the median of the last minute (goal within 10 %;
  counts may also differ by one, which is activity, not a leak).

    nice .venv/bin/python -m bench.soak --minutes 20        # the figure in bench/README.md
    .venv/bin/python -m bench.soak --minutes 2 --devices 3   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

import numpy as np

from bench.faults import (
    Broker,
    ResourceSample,
    TaskCounts,
    TurnOutcome,
    error_lines,
    run_in_private_network,
    sample_process,
    speak_and_wait,
    window_median,
)
from bench.speech import DEFAULT_UTTERANCES, Utterance, make_utterances
from naila_demo.stack import DemoStack, StackSettings
from naila_protocol.process import run_until_stopped
from naila_sim import SimDevice

_LOGGER = logging.getLogger("bench.soak")
FLAT_GOAL = 0.10
WINDOW_S = 60.0
RESOURCES = ("rss_mb", "open_files", "threads", "tasks")


@dataclass(slots=True)
class TurnRecord:
    device: str
    at_s: float
    text: str
    barge_in: bool
    outcome: TurnOutcome


@dataclass(slots=True)
class SoakResults:
    turns: list[TurnRecord] = field(default_factory=list)
    gateway: list[ResourceSample] = field(default_factory=list)
    server: list[ResourceSample] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)
    unfinished_requests: int = 0
    log_errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    load_start: float = 0.0
    """1-minute load average when the run began (the machine's other work)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run = parser.add_argument_group("run")
    run.add_argument("--devices", type=int, default=10, help="simulated devices (default 10)")
    run.add_argument("--minutes", type=float, default=20.0, help="duration (default 20)")
    run.add_argument(
        "--max-turns", type=int, default=5000, help="stop after this many utterances in total"
    )
    run.add_argument(
        "--pause",
        type=float,
        nargs=2,
        default=(6.0, 16.0),
        metavar=("MIN", "MAX"),
        help="seconds between a device's turns, uniform (default 6 16)",
    )
    run.add_argument(
        "--barge-in-share",
        type=float,
        default=0.2,
        help="share of turns where the device talks over the reply (default 0.2)",
    )
    run.add_argument(
        "--server-restart-at", type=float, default=0.4, help="fraction of the run (default 0.4)"
    )
    run.add_argument(
        "--broker-restart-at", type=float, default=0.6, help="fraction of the run (default 0.6)"
    )
    run.add_argument(
        "--baseline-minute",
        type=float,
        default=5.0,
        help="resources are compared from this minute (capped at a quarter of the run)",
    )
    run.add_argument("--sample-seconds", type=float, default=5.0, help="resource sample period")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument(
        "--no-netns",
        action="store_true",
        help="do not enter a private network namespace (needs WebRTC on loopback otherwise)",
    )
    run.add_argument("--keep-logs", type=Path, help="keep child logs in this directory")
    parser.add_argument("--log-level", default="WARNING")
    return parser


async def device_loop(
    device: SimDevice,
    utterances: list[Utterance],
    rng: random.Random,
    args: argparse.Namespace,
    results: SoakResults,
    started: float,
    stop_at: float,
    within_s: float,
) -> None:
    while time.monotonic() < stop_at and len(results.turns) < args.max_turns:
        await asyncio.sleep(rng.uniform(*args.pause))
        if time.monotonic() >= stop_at:
            return
        if not device.connected:
            with contextlib.suppress(TimeoutError):
                await device.wait_connected(30.0)
            continue
        first, second = rng.sample(utterances, 2)
        barge = rng.random() < args.barge_in_share
        at_s = time.monotonic() - started
        try:
            async with asyncio.timeout(4 * within_s):  # a stuck turn is reported, not waited for
                outcomes = await speak_and_wait(
                    device,
                    np.frombuffer(first.pcm48k, dtype="<i2"),
                    within_s=within_s,
                    barge_in=np.frombuffer(second.pcm48k, dtype="<i2") if barge else None,
                )
        except TimeoutError:
            outcomes = [TurnOutcome("lost", notes=["the bench's turn got stuck"])]
        for i, (utterance, outcome) in enumerate(zip((first, second), outcomes, strict=False)):
            record = TurnRecord(device.config.device_id, at_s, utterance.text, i == 1, outcome)
            results.turns.append(record)
            if outcome.outcome == "lost":
                _LOGGER.warning("LOST: %s %r at %.0f s", record.device, record.text, at_s)


async def sampler(
    stack: DemoStack, tasks: TaskCounts, results: SoakResults, started: float, period: float
) -> None:
    while True:
        at_s = time.monotonic() - started
        gateway = stack.gateway
        server = stack.server
        g = sample_process(gateway.pid if gateway else None, at_s, tasks.gateway)
        s = sample_process(server.pid if server else None, at_s, tasks.server)
        if g is not None:
            results.gateway.append(g)
        if s is not None:
            results.server.append(s)
        await asyncio.sleep(period)


async def faults(
    stack: DemoStack, broker: Broker, args: argparse.Namespace, results: SoakResults, started: float
) -> None:
    duration = args.minutes * 60
    plan = sorted(
        [
            (args.server_restart_at * duration, "server"),
            (args.broker_restart_at * duration, "broker"),
        ]
    )
    for at_s, what in plan:
        await asyncio.sleep(max(0.0, started + at_s - time.monotonic()))
        results.faults.append((time.monotonic() - started, f"{what} restart begins"))
        print(f"[{time.monotonic() - started:6.0f} s] restarting the {what}", flush=True)
        if what == "server" and stack.server is not None:
            await stack.server.stop()
            await stack.server.start()
            await stack.server.wait_for_port("127.0.0.1", stack.audio_port, 240.0)
        elif what == "broker":
            await broker.restart()
        results.faults.append((time.monotonic() - started, f"{what} back"))
        print(f"[{time.monotonic() - started:6.0f} s] {what} is back", flush=True)


def unfinished_requests(devices: list[SimDevice]) -> int:
    """Request ids the gateway announced (`utterance`) with no later final event."""
    final = {"reply", "interrupted", "server_unavailable", "reply_timeout", "error"}
    missing = 0
    for device in devices:
        started = {e.get("request_id") for e in device.events if e.get("event") == "utterance"}
        ended = {e.get("request_id") for e in device.events if e.get("event") in final}
        missing += len(started - ended)
    return missing


async def run_soak(args: argparse.Namespace) -> SoakResults:
    results = SoakResults(load_start=os.getloadavg()[0])
    texts = list(DEFAULT_UTTERANCES)
    print(f"synthesizing {len(texts)} utterances with espeak-ng ...", flush=True)
    utterances = await asyncio.to_thread(make_utterances, texts)
    rng = random.Random(args.seed)
    async with contextlib.AsyncExitStack() as stack:
        out_dir = args.keep_logs or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-"))
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        # runs after every process stopped, before the logs are removed
        stack.callback(lambda: results.log_errors.update(error_lines(out_dir / "logs")))
        broker = Broker(out_dir)
        await broker.start()
        stack.push_async_callback(broker.stop)
        reply_timeout = 20.0
        settings = StackSettings(
            out_dir=out_dir,
            mqtt_host="127.0.0.1",
            mqtt_port=broker.port,
            log_level=args.log_level.upper() if args.log_level.upper() != "WARNING" else "INFO",
            server_args=["--no-vision"],
            gateway_args=["--reply-timeout", str(reply_timeout)],
        )
        print("starting the NAILA stack ...", flush=True)
        naila = await stack.enter_async_context(DemoStack(settings))
        tasks = TaskCounts("127.0.0.1", broker.port, settings.prefix)
        await stack.enter_async_context(tasks.link)
        devices = []
        for i in range(args.devices):
            config = naila.device_config(f"soak-{i:02d}")
            config.loopback = True
            devices.append(await stack.enter_async_context(SimDevice(config)))
        await asyncio.gather(*(d.wait_connected(60.0) for d in devices))
        print(f"{len(devices)} devices connected; soaking for {args.minutes:g} min", flush=True)
        started = time.monotonic()
        stop_at = started + args.minutes * 60
        background = [
            asyncio.create_task(sampler(naila, tasks, results, started, args.sample_seconds)),
            asyncio.create_task(faults(naila, broker, args, results, started)),
        ]
        try:
            await asyncio.gather(
                *(
                    device_loop(
                        d, utterances, random.Random(rng.random()), args, results, started,
                        stop_at, reply_timeout + 25.0,
                    )
                    for d in devices
                )
            )  # fmt: skip
            await asyncio.sleep(3.0)  # late final events
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        results.wall_s = time.monotonic() - started
        results.unfinished_requests = unfinished_requests(devices)
    return results


def flatness(samples: list[ResourceSample], base_s: float, end_s: float) -> list[str]:
    rows = []
    for key in RESOURCES:
        base = window_median(samples, base_s, base_s + WINDOW_S, key)
        end = window_median(samples, end_s - WINDOW_S, end_s, key)
        if base is None or end is None or base == 0:
            rows.append(f"  {key:11} baseline {base}  end {end}  (not measured)")
            continue
        change = end / base - 1
        slack = 0.0 if key == "rss_mb" else 1.0  # counts: one more or less is activity
        verdict = "flat" if abs(end - base) <= FLAT_GOAL * base + slack else "NOT flat"
        rows.append(f"  {key:11} {base:9.1f} -> {end:9.1f}  {change:+6.1%}  {verdict}")
    return rows


def report(args: argparse.Namespace, results: SoakResults) -> int:
    turns = results.turns
    counts = Counter(t.outcome.outcome for t in turns)
    answered = [t for t in turns if t.outcome.answered]
    first_audio = [t.outcome.first_audio_ms for t in answered if t.outcome.first_audio_ms]
    print()
    print(
        f"soak: {args.devices} devices, {results.wall_s / 60:.1f} min, {len(turns)} utterances "
        f"({sum(t.barge_in for t in turns)} barge-ins)"
    )
    print(
        f"load average (1 min): {results.load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    for at_s, what in results.faults:
        print(f"  fault at {at_s:6.0f} s: {what}")
    print("outcomes:")
    for name, count in sorted(counts.items()):
        print(f"  {name:22} {count:5d}")
    if first_audio:
        print(
            f"first audio of answered turns: median {statistics.median(first_audio):.0f} ms, "
            f"p95 {float(np.percentile(first_audio, 95)):.0f} ms"
        )
    print(f"request ids announced without a final event: {results.unfinished_requests}")
    lost = counts.get("lost", 0)
    print(f"silently lost utterances: {lost}")
    print(f"ERROR/traceback lines in the logs: {results.log_errors}")
    base_s = min(args.baseline_minute * 60, results.wall_s / 4)
    end_s = results.wall_s
    print(f"resources, median of [{base_s:.0f} s, +{WINDOW_S:.0f} s] -> median of last minute:")
    verdicts = []
    for name, samples in (("gateway", results.gateway), ("AI server", results.server)):
        print(f" {name}:")
        rows = flatness(samples, base_s, end_s)
        verdicts += rows
        print("\n".join(rows))
    ok = lost == 0 and not any("NOT flat" in row for row in verdicts)
    print(f"verdict: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.devices < 1 or args.minutes <= 0:
        raise SystemExit("--devices must be >= 1 and --minutes > 0")
    if not args.no_netns:
        code = run_in_private_network("bench.soak", argv)
        if code is not None:
            return code
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    results = run_until_stopped(run_soak(args))
    if results is None:
        print("stopped by a signal; everything stopped", file=sys.stderr)
        return 130
    return report(args, results)


if __name__ == "__main__":
    sys.exit(main())
