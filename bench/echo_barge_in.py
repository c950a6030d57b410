"""Echo-safe barge-in on the real path: gateway + simulated device over WebRTC (loopback).

The device has no echo cancellation: its microphone hears its own speaker (naila_sim/echo.py)
with a delay of 30-150 ms, 6-20 dB down, over room noise: five simulated devices, one per
room (ROOMS), share the replies. The AI
server is a stand-in that answers every request with the same Piper speech (no inference).
Per echo mode of the gateway (AUDIO_ECHO):

- false barge-ins: replies interrupted although nobody talked over them (of `--replies`);
- barge-in latency: someone (espeak-ng, another voice) talks over a playing reply; from the
  first frame of that speech leaving the microphone to the gateway clearing the reply
  (`gateway`) and to the device hearing it stop (`device`, 10 silent frames in a row).

Baseline in the same run: barge-in latency with echo `off` on a device without echo. The
modes of `--dry-modes` are also measured on a device without echo (one that cancels its own
echo: what a default costs it).

    python -m bench.echo_barge_in [--replies 50] [--barge-ins 20] [--modes suppress,cancel]
        [--dry-modes cancel]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.gateway_procs import mosquitto
from bench.reply_speaker import ReplySpeaker
from bench.speech import espeak_pcm, resample_pcm
from naila_demo.speech import trim_silence
from naila_gateway import Gateway, GatewayConfig
from naila_gateway.echo import EchoMode, EchoSettings
from naila_protocol.mqtt import MqttSettings
from naila_sim import SimDevice, SimDeviceConfig
from naila_sim.echo import RoomEcho
from tests.helpers import wait_for_session

REPLY_TEXT = (
    "The kitchen lights are on now, and the living room is at twenty one degrees, "
    "which is just what you asked for this evening"
)
REQUEST_TEXT = "turn on the kitchen lights"
BARGE_TEXT = "stop, that is enough thank you"


@dataclass(slots=True)
class ModeResult:
    mode: str
    echo: bool
    replies: int = 0
    false_barge_ins: int = 0
    gateway_ms: list[float] = field(default_factory=list)
    device_ms: list[float] = field(default_factory=list)
    missed: int = 0
    echo_cpu_s: float = 0.0
    """CPU time of the gateway's echo guard (played + filter, on the event loop's thread)."""
    echo_frames: int = 0
    """Microphone frames the guard filtered."""


def speech_48k(text: str, voice: str) -> np.ndarray:
    samples, rate = espeak_pcm(text, voice=voice)
    return trim_silence(np.frombuffer(resample_pcm(samples, rate, 48000), "<i2").copy())


def piper_reply(text: str) -> tuple[bytes, int]:
    from bench.turn_set import piper_pcm  # noqa: PLC0415 - loads the Piper voice

    return piper_pcm(text).astype("<i2").tobytes(), 48000


async def _interrupted(device: SimDevice, since: int) -> bool:
    return any(
        e.get("event") == "interrupted" and e.get("reason") == "barge_in"
        for e in device.events[since:]
    )


async def one_reply(device: SimDevice, request: np.ndarray) -> bool:
    """Ask, let the whole reply play; True if it was interrupted (a false barge-in)."""
    since = len(device.events)
    mark = device.recorder.mark()
    await device.say(request)
    start = await device.recorder.wait_voiced(mark, within=20)
    await device.recorder.wait_quiet(start, frames=25, within=30)
    await asyncio.sleep(0.4)  # the echo tail
    return await _interrupted(device, since)


async def one_barge_in(
    device: SimDevice, gateway: Gateway, request: np.ndarray, barge: np.ndarray, delay: float
) -> tuple[float, float] | None:
    """Talk over a playing reply; (gateway ms, device ms) from speech onset, None if missed."""
    since = len(device.events)
    mark = device.recorder.mark()
    await device.say(request)
    await device.recorder.wait_voiced(mark, within=20)
    await asyncio.sleep(delay)
    voice = gateway.sessions[device.config.device_id].voice
    cleared_before = voice.output.cleared_at
    device.mic.queue(barge)
    await asyncio.wait_for(device.mic.onset_sent.wait(), 10)
    onset = device.mic.first_voiced_sent_at
    assert onset is not None
    with contextlib.suppress(TimeoutError):
        await device.wait_event("interrupted", since=since, within=3.0)
    cleared = voice.output.cleared_at
    await device.mic.wait_drained()
    if cleared is None or cleared == cleared_before:
        return None
    # the first of the silent frames the device received once the gateway cleared the reply
    stop = await device.recorder.wait_quiet(_index_at(device, cleared), frames=10, within=10)
    heard_stop = device.recorder.time_of(stop)
    # the new request gets its own reply: let it finish before the next round
    with contextlib.suppress(TimeoutError):
        follow = await device.recorder.wait_voiced(stop + 10, within=10)
        await device.recorder.wait_quiet(follow, frames=25, within=30)
    await asyncio.sleep(0.4)
    return (cleared - onset) * 1000, (heard_stop - onset) * 1000


def _index_at(device: SimDevice, at: float) -> int:
    index = device.recorder.mark() - 1
    while index > 0 and device.recorder.time_of(index - 1) >= at:
        index -= 1
    return index


ROOMS = (
    RoomEcho(delay_s=0.03, gain_db=-6.0, noise_dbfs=-55.0, seed=1),
    RoomEcho(delay_s=0.06, gain_db=-10.0, noise_dbfs=-60.0, seed=2),
    RoomEcho(delay_s=0.09, gain_db=-13.0, noise_dbfs=-50.0, seed=3),
    RoomEcho(delay_s=0.12, gain_db=-16.0, noise_dbfs=-65.0, seed=4),
    RoomEcho(delay_s=0.15, gain_db=-20.0, noise_dbfs=-55.0, seed=5),
)
"""One simulated device per room (a device does not move between replies)."""


async def run_mode(
    broker: int, speaker: ReplySpeaker, mode: EchoMode, *, echo: bool, args: argparse.Namespace
) -> ModeResult:
    rng = random.Random(args.seed)
    config = GatewayConfig(
        mqtt=MqttSettings(port=broker), ai_server_port=speaker.port, echo=EchoSettings(mode=mode)
    )
    gateway = Gateway(config)
    await gateway.start()
    result = ModeResult(mode.value, echo)
    request = speech_48k(REQUEST_TEXT, "en-us")
    barge = speech_48k(BARGE_TEXT, "en-gb")
    rooms: tuple[RoomEcho | None, ...] = ROOMS if echo else (None,)
    try:
        for number, room in enumerate(rooms):
            device_id = f"echo-{mode.value}-{'room' if echo else 'dry'}{number}"
            device = SimDevice(
                SimDeviceConfig(device_id, mqtt_port=broker, loopback=True, echo=room)
            )
            dump = Dump()
            onsets: list[float] = []
            try:
                await device.start()
                await device.wait_connected()
                session = await wait_for_session(gateway, device_id)
                await gateway.server.wait_connected()
                _record(session.voice.echo, dump if args.dump else None, result)
                for _ in range(args.replies // len(rooms) if echo else 0):
                    result.replies += 1
                    result.false_barge_ins += await one_reply(device, request)
                for _ in range(args.barge_ins // len(rooms)):
                    delay = rng.uniform(0.8, 1.6)
                    latency = await one_barge_in(device, gateway, request, barge, delay)
                    onsets.append(device.mic.first_voiced_sent_at or 0.0)
                    if latency is None:
                        result.missed += 1
                    else:
                        result.gateway_ms.append(latency[0])
                        result.device_ms.append(latency[1])
            finally:
                await device.stop()
            print(f"  {device_id} {room}: {result}", flush=True)
            if args.dump:
                arrays: dict[str, Any] = {**dump.arrays(), "onsets": np.array(onsets)}
                np.savez_compressed(f"{args.dump}-{device_id}.npz", **arrays)
    finally:
        await gateway.stop()
    return result


@dataclass(slots=True)
class Dump:
    """Every played and heard frame of one device, with times (for offline tuning)."""

    played: list[tuple[float, np.ndarray]] = field(default_factory=list)
    heard: list[tuple[float, np.ndarray, bool, bool]] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "played_t": np.array([t for t, _ in self.played]),
            "played": np.array([f for _, f in self.played]),
            "heard_t": np.array([h[0] for h in self.heard]),
            "heard": np.array([h[1] for h in self.heard]),
            "vad": np.array([h[2] for h in self.heard]),
            "decided": np.array([h[3] for h in self.heard]),
        }


def _record(guard: Any, dump: Dump | None, result: ModeResult) -> None:
    """Time the guard's work (thread CPU time) and keep its frames in `dump`."""
    played, filtered = guard.played, guard.filter

    def on_played(frame: np.ndarray) -> None:
        if dump is not None:
            dump.played.append((time.perf_counter(), frame.copy()))
        started = time.thread_time()
        played(frame)
        result.echo_cpu_s += time.thread_time() - started

    def on_heard(frame: np.ndarray, speech: bool) -> bool:
        started = time.thread_time()
        decided = bool(filtered(frame, speech))
        result.echo_cpu_s += time.thread_time() - started
        result.echo_frames += 1
        if dump is not None:
            dump.heard.append((time.perf_counter(), frame.copy(), speech, decided))
        return decided

    guard.played, guard.filter = on_played, on_heard


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


async def run(args: argparse.Namespace) -> list[ModeResult]:
    pcm, rate = piper_reply(REPLY_TEXT)
    speaker = ReplySpeaker(pcm, rate)
    await speaker.start()
    results = []
    try:
        async with mosquitto() as broker:
            results.append(await run_mode(broker, speaker, EchoMode.OFF, echo=False, args=args))
            for name in filter(None, args.modes.split(",")):
                mode = EchoMode(name)
                results.append(await run_mode(broker, speaker, mode, echo=True, args=args))
            for name in filter(None, args.dry_modes.split(",")):
                mode = EchoMode(name)
                results.append(await run_mode(broker, speaker, mode, echo=False, args=args))
    finally:
        await speaker.stop()
    base = statistics.median(results[0].device_ms) if results[0].device_ms else float("nan")
    print(f"\nreply {len(pcm) / 2 / rate:.1f} s of Piper speech; 5 rooms: 30-150 ms, -6..-20 dB")
    print(
        f"{'mode':22} {'false barge-ins':>16} {'missed':>7} {'gateway ms':>11} {'device ms':>10}"
        f" {'x base':>7} {'guard CPU/frame':>16}"
    )
    for r in results:
        name = f"{r.mode} ({'echo' if r.echo else 'no echo'})"
        false = f"{r.false_barge_ins}/{r.replies}" if r.echo else "-"
        ratio = statistics.median(r.device_ms) / base if r.device_ms else float("nan")
        cpu = r.echo_cpu_s * 1000 / r.echo_frames if r.echo_frames else float("nan")
        print(
            f"{name:22} {false:>16} {r.missed:>4}/{args.barge_ins} {_median(r.gateway_ms):>11}"
            f" {_median(r.device_ms):>10} {ratio:>7.2f} {cpu:>13.3f} ms"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.echo_barge_in", description=__doc__)
    parser.add_argument("--replies", type=int, default=50, help="replies played over echo")
    parser.add_argument("--barge-ins", type=int, default=20, help="talk-overs per mode")
    parser.add_argument(
        "--modes", default="suppress,cancel", help="echo modes measured on devices with echo"
    )
    parser.add_argument(
        "--dry-modes", default="cancel", help="echo modes also measured on a device without echo"
    )
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--dump", help="save each device's played/heard frames to PREFIX-*.npz")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level)
    for name in ("aioice", "aiortc"):
        logging.getLogger(name).setLevel(logging.WARNING)
    started = time.perf_counter()
    asyncio.run(run(args))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
