"""Gateway CPU per full-duplex stream, frame loss and one-way audio latency, against a plain
aiortc echo peer measured the same way in the same run.

For 1, 5 and 10 concurrent simulated devices (bench/gateway_device.py) the bench runs two far
sides, interleaved step by step:
  baseline  bench/gateway_echo_peer.py: a plain aiortc peer (same MQTT signaling) echoing audio
  gateway   `python -m naila_gateway` whose AI server is bench/gateway_echo_server.py, a
            BENCH-ONLY framing server that answers every utterance at once with a 0.6 s tone
Devices speak 0.5 s tone utterances, wait for the answer, and repeat. CPU = process CPU time
/ wall time / streams (psutil) over the measuring window. Latency: tone onsets timestamped on
CLOCK_MONOTONIC where audio leaves and arrives (up-link: device -> the far side's decoded
audio, for the gateway the audio arriving at the AI-server socket; down-link: far side ->
device decoder output). Goals: <= 6 % of a core per stream, no loss at 10, p95 <= 40 ms.

    .venv/bin/python bench/gateway_streams.py            # ~3 min
    .venv/bin/python bench/gateway_streams.py --streams 1,5 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

import aiomqtt

from bench.gateway_device import BenchDevice, Talk
from bench.gateway_echo_server import EchoFramingServer
from bench.gateway_markers import match_latencies, percentile_ms
from bench.gateway_procs import REPO, CpuWindow, mosquitto, start_python
from naila_demo.children import ChildProcess
from naila_protocol.topics import Topics

_LOGGER = logging.getLogger("bench.gateway_streams")

GOAL_CPU = 0.06
GOAL_P95_MS = 40.0


@dataclass
class StepResult:
    target: str
    streams: int
    cpu_per_stream: float = float("nan")
    frames_expected: int = 0
    frames_heard: int = 0
    rtp_lost: int = 0
    utterances: int = 0
    uplink: list[float] = field(default_factory=list)
    downlink: list[float] = field(default_factory=list)
    connected: int = 0
    up_loss: float = float("nan")
    """Frames the far side did not decode (gateway metrics; nan for the baseline)."""
    load: float = 0.0
    """1-minute load average at the end of the step (the cores are shared with other work)."""
    device_onsets: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    """device_id -> (onsets it sent, onsets it heard), matched once the far side reported."""

    @property
    def down_loss(self) -> float:
        if not self.frames_expected:
            return float("nan")
        return max(0.0, 1 - self.frames_heard / self.frames_expected)


@dataclass
class FarSide:
    """One thing the devices talk to: its process (for CPU) and where its onset times come from."""

    name: str
    mqtt_port: int
    proc: ChildProcess
    uplink_onsets: Callable[[str], list[float]]
    downlink_sent: Callable[[str], list[float]]
    utterances: Callable[[str], int]
    metrics: MetricsWatch | None = None


class MetricsWatch:
    """Latest `gateway/metrics` counters and when they arrived (the gateway reports every 1 s)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latest: tuple[float, dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port) as client:
            await client.subscribe(Topics().gateway_metrics, qos=0)
            async for message in client.messages:
                with contextlib.suppress(ValueError, TypeError):
                    self.latest = (time.monotonic(), json.loads(message.payload))


Snapshot = tuple[float, dict[str, Any]] | None


def uplink_loss(before: Snapshot, after: Snapshot, streams: int) -> float:
    """1 - frames the gateway decoded / frames `streams` devices sent in that time."""
    if before is None or after is None or after[0] <= before[0]:
        return float("nan")
    frames = after[1]["frames_in"] - before[1]["frames_in"]
    return max(0.0, 1 - frames / ((after[0] - before[0]) / 0.02 * streams))


async def wait_gateway_online(port: int, within_s: float) -> None:
    topics = Topics()
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topics.gateway_status, qos=1)
        async with asyncio.timeout(within_s):
            async for message in client.messages:
                with contextlib.suppress(ValueError, TypeError):
                    if json.loads(message.payload).get("online"):
                        return


async def run_step(side: FarSide, streams: int, args: argparse.Namespace) -> StepResult:
    result = StepResult(side.name, streams)
    devices = [
        BenchDevice(
            f"bench-{side.name}-{streams}-{i}",
            "127.0.0.1",
            side.mqtt_port,
            talk=Talk(),
            prefetch_frames=args.prefetch,
        )
        for i in range(streams)
    ]
    tasks = [asyncio.create_task(d.run()) for d in devices]
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.connect_timeout):
                await asyncio.gather(*(d.connected.wait() for d in devices))
        result.connected = sum(d.connected.is_set() for d in devices)
        if result.connected < streams:
            _LOGGER.warning(
                "%s: only %d of %d devices connected", side.name, result.connected, streams
            )
        for d in devices:  # stagger the talkers over one cycle
            asyncio.get_running_loop().call_later(
                random.uniform(0, 1.5), setattr, d, "talking", True
            )
        await asyncio.sleep(args.warmup)
        assert side.proc.pid is not None
        cpu = CpuWindow(side.proc.pid)
        before = side.metrics.latest if side.metrics else None
        cpu.start()
        for d in devices:
            d.measuring = True
        await asyncio.sleep(args.seconds)
        for d in devices:
            d.measuring = False
        cpu.stop()
        if side.metrics is not None:
            await asyncio.sleep(1.2)  # the next metrics message covers the window's end
            result.up_loss = uplink_loss(before, side.metrics.latest, streams)
        result.load = os.getloadavg()[0]
        result.cpu_per_stream = cpu.cores / streams
        result.frames_expected = round(cpu.wall_s / 0.02) * streams
        for d in devices:
            rtp = await d.rtp_stats()
            result.rtp_lost += rtp["rx_lost"] + rtp["tx_lost_remote"]
            result.frames_heard += d.stats.frames_heard
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(1.0)  # let the far side close its sessions
    for d in devices:
        result.device_onsets[d.device_id] = (d.stats.sent_onsets, d.stats.heard_onsets)
    return result


def match_step(result: StepResult, side: FarSide) -> None:
    for device_id, (sent, heard) in result.device_onsets.items():
        result.uplink += match_latencies(sent, side.uplink_onsets(device_id))
        result.downlink += match_latencies(side.downlink_sent(device_id), heard)
        result.utterances += side.utterances(device_id)


def fmt_row(r: StepResult) -> str:
    ok_cpu = "ok" if r.cpu_per_stream <= GOAL_CPU else "MISS"
    up = "    -" if r.up_loss != r.up_loss else f"{100 * r.up_loss:5.1f}"
    return (
        f"{r.target:9} {r.streams:3d} {r.connected:4d} {100 * r.cpu_per_stream:6.1f}% {ok_cpu:4} "
        f"{up}% {100 * r.down_loss:5.1f}% {r.rtp_lost:5d} "
        f"{percentile_ms(r.uplink, 50):6.1f} {percentile_ms(r.uplink, 95):6.1f} {len(r.uplink):4d} "
        f"{percentile_ms(r.downlink, 50):6.1f} {percentile_ms(r.downlink, 95):6.1f} "
        f"{len(r.downlink):4d} {r.load:5.1f}"
    )


def print_table(results: Sequence[StepResult]) -> None:
    print()
    print(
        "                        cpu         frame loss   RTP  --- up-link ms ---  -- down-link ms --"
    )
    print(
        "target  streams conn  /stream  goal     up   down  lost   p50    p95    n    p50    p95    n  load"
    )
    for r in results:
        print(fmt_row(r))
    print()
    by = {(r.target, r.streams): r for r in results}
    print("ratios gateway / baseline (same run):")
    for n in sorted({r.streams for r in results}):
        g, b = by.get(("gateway", n)), by.get(("baseline", n))
        if g is None or b is None:
            continue
        print(
            f"  {n:2d} streams: cpu/stream x{g.cpu_per_stream / b.cpu_per_stream:.2f}  "
            f"up p95 x{percentile_ms(g.uplink, 95) / percentile_ms(b.uplink, 95):.2f}  "
            f"down p95 x{percentile_ms(g.downlink, 95) / percentile_ms(b.downlink, 95):.2f}"
        )
    print(
        "frame loss: up = frames the gateway did not decode (its metrics), down = frames the "
        "device did not decode; RTP lost = packets lost on the wire (receiver/RTCP stats)"
    )
    print(
        f"load = 1-min load average after each step ({os.cpu_count()} cores, shared with other work)"
    )
    print(
        f"goals: cpu/stream <= {100 * GOAL_CPU:.0f} % of a core, no frame loss at 10 streams, "
        f"p95 one-way <= {GOAL_P95_MS:.0f} ms"
    )


async def bench(args: argparse.Namespace) -> list[StepResult]:
    stack = contextlib.AsyncExitStack()
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-gw-")))
    sides: list[FarSide] = []
    echo_server: EchoFramingServer | None = None
    base_results = tmp / "echo_peer.json"
    base_onsets: dict[str, list[float]] = {}
    try:
        if "baseline" in args.targets:
            port = await stack.enter_async_context(mosquitto())
            proc = start_python(
                "echo peer",
                [
                    str(REPO / "bench" / "gateway_echo_peer.py"),
                    "--mqtt-port",
                    str(port),
                    "--prefetch",
                    str(args.prefetch),
                    "--results",
                    str(base_results),
                ],
                log=tmp / "echo_peer.log",
            )
            await proc.start()
            stack.push_async_callback(proc.stop)
            sides.append(
                FarSide(
                    "baseline",
                    port,
                    proc,
                    uplink_onsets=lambda d: base_onsets.get(d, []),
                    downlink_sent=lambda d: base_onsets.get(d, []),
                    utterances=lambda d: len(base_onsets.get(d, [])),
                )
            )
        if "gateway" in args.targets:
            port = await stack.enter_async_context(mosquitto())
            echo_server = EchoFramingServer()
            await echo_server.start()
            env = {
                "MQTT_HOST": "127.0.0.1",
                "MQTT_PORT": str(port),
                "AI_SERVER_HOST": "127.0.0.1",
                "AI_SERVER_PORT": str(echo_server.port),
                "LOG_LEVEL": args.gateway_log_level,
            }
            gw_log = args.gateway_log or tmp / "gateway.log"
            proc = start_python(
                "gateway",
                ["-m", "naila_gateway", "--metrics-interval", "1", *args.gateway_arg],
                env=env,
                log=Path(gw_log),
            )
            await proc.start()
            stack.push_async_callback(proc.stop)
            await wait_gateway_online(port, 30)
            es = echo_server
            watch = MetricsWatch(port)
            watch.start()
            sides.append(
                FarSide(
                    "gateway",
                    port,
                    proc,
                    uplink_onsets=lambda d: es.uplink_onsets.get(d, []),
                    downlink_sent=lambda d: es.reply_sent.get(d, []),
                    utterances=lambda d: es.utterances.get(d, 0),
                    metrics=watch,
                )
            )
        await asyncio.sleep(1.0)
        pending: list[StepResult] = []
        for n in args.streams:
            for side in sides:
                _LOGGER.warning("measuring %s with %d streams", side.name, n)
                pending.append(await run_step(side, n, args))
        for side in sides:  # the echo peer reports its onsets when it exits
            if side.name == "baseline":
                await side.proc.stop()
                with contextlib.suppress(OSError, ValueError):
                    base_onsets.update(json.loads(base_results.read_text()))
        by_name = {side.name: side for side in sides}
        for r in pending:  # the baseline's onsets exist only now
            match_step(r, by_name[r.target])
        return pending
    finally:
        for side in sides:
            if side.metrics is not None:
                await side.metrics.stop()
        if echo_server is not None:
            await echo_server.stop()
        await stack.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--streams", default="1,5,10", help="comma-separated device counts (default 1,5,10)"
    )
    run.add_argument(
        "--seconds", type=float, default=15.0, help="measuring window per step (default 15)"
    )
    run.add_argument(
        "--warmup", type=float, default=3.0, help="seconds before measuring (default 3)"
    )
    run.add_argument("--connect-timeout", type=float, default=30.0)
    run.add_argument(
        "--targets", default="baseline,gateway", help="baseline,gateway (default both)"
    )
    media = parser.add_argument_group("media")
    media.add_argument(
        "--prefetch",
        type=int,
        default=1,
        help="receive jitter-buffer prefetch of the devices and the echo peer, frames",
    )
    gw = parser.add_argument_group("gateway")
    gw.add_argument(
        "--gateway-arg", action="append", default=[], help="extra CLI argument for the gateway"
    )
    gw.add_argument("--gateway-log", help="keep the gateway's log in this file")
    gw.add_argument("--gateway-log-level", default="WARNING")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    args.streams = [int(x) for x in args.streams.split(",") if x]
    args.targets = [x.strip() for x in args.targets.split(",") if x.strip()]
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    started = time.monotonic()
    results = asyncio.run(bench(args))
    print_table(results)
    print(f"run time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
