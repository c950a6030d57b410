"""Chaos: kill -9 the broker, the AI server and the gateway in turn during a conversation.

The real stack on loopback, in a private network namespace (`unshare -n`): mosquitto,
`python -m wyoming_bridge`, `python -m naila_gateway` and simulated devices. For each fault a
device speaks; while its reply plays the process is killed with SIGKILL and started again at
once (as the Supervisor or systemd would: nobody touches the others). A standby AI server
(a second `python -m wyoming_bridge`, own port and server id) runs beside the first one: the
gateway fails over to it when its server dies (`--no-standby`: one server, the device waits for
the killed one to reload its models). The server fault kills the server the gateway is
connected to. The device keeps talking until it hears an answer. Reported per fault: time from
the kill to the next answered utterance (reply audio heard; goal <= 5 s), to the next `reply`
event on MQTT, what happened to the turn in flight, and whether a second device that stayed
quiet is still served afterwards; for the gateway also when the new process was online on MQTT,
when its offer reached the device and when the WebRTC session was up.

    .venv/bin/python -m bench.chaos                       # broker, server, gateway, once each
    .venv/bin/python -m bench.chaos --rounds 3 --fault gateway
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

import numpy as np
import psutil

from bench.faults import (
    Broker,
    TurnOutcome,
    kill9,
    run_in_private_network,
    speak_and_wait,
    wait_outcome,
    wait_reply_end,
)
from bench.speech import DEFAULT_UTTERANCES, Utterance, make_utterances
from naila_demo.children import ChildProcess
from naila_demo.stack import DemoStack, StackSettings
from naila_protocol.mqtt import Incoming, MqttLink, MqttSettings, unique_client_id
from naila_protocol.process import run_until_stopped
from naila_protocol.tasks import cancel_and_wait
from naila_protocol.topics import QOS_RELIABLE, Topics
from naila_sim import SimDevice

_LOGGER = logging.getLogger("bench.chaos")
FAULTS = ("broker", "server", "gateway")
GOAL_S = 5.0
TURN_WITHIN_S = 25.0


@dataclass(slots=True)
class Recovery:
    fault: str
    in_flight: str
    """Outcome of the turn during which the process was killed."""
    answered_after_s: float | None = None
    """Kill -> first reply audio of the next answered utterance."""
    event_after_s: float | None = None
    """Kill -> the next `reply` event seen on MQTT."""
    session_after_s: float | None = None
    """Gateway fault: kill -> the device's WebRTC session with the new gateway is up."""
    online_after_s: float | None = None
    """Gateway fault: kill -> the new gateway's retained `online` status on MQTT."""
    offer_after_s: float | None = None
    """Gateway fault: kill -> the new gateway's offer reached the device."""
    answering_turn_s: float | None = None
    """End of speech -> first reply audio of the utterance that was answered after the kill."""
    killed: str = ""
    """Which process was killed (the server fault: the one serving the gateway)."""
    baseline_s: float | None = None
    """End of speech -> first reply audio of a normal turn just before the fault (same run)."""
    attempts: list[str] = field(default_factory=list)
    other_device: str = ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--fault",
        action="append",
        choices=FAULTS,
        help="process to kill (repeatable; default all three in turn)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="times each fault is repeated")
    parser.add_argument(
        "--recovery-limit", type=float, default=120.0, help="seconds to wait for an answer"
    )
    parser.add_argument(
        "--no-standby", action="store_true", help="no standby AI server to fail over to"
    )
    parser.add_argument("--no-netns", action="store_true", help="stay in this network namespace")
    parser.add_argument("--keep-logs", type=Path, help="keep child logs in this directory")
    parser.add_argument("--log-level", default="WARNING")
    return parser


def pcm(u: Utterance) -> np.ndarray:
    return np.frombuffer(u.pcm48k, dtype="<i2")


class GatewayOnline:
    """perf_counter() of every retained `online: true` status of the gateway (own MQTT link)."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.topic = Topics(prefix).gateway_status
        self.online_at: list[float] = []
        self.link = MqttLink(
            MqttSettings(host=host, port=port, prefix=prefix),
            client_id=unique_client_id("naila-bench-chaos"),
            on_message=self._on_message,
            subscriptions=[(self.topic, QOS_RELIABLE)],
        )

    def _on_message(self, message: Incoming) -> None:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            if json.loads(message.payload).get("online") is True:
                self.online_at.append(time.perf_counter())

    def first_after(self, at: float) -> float | None:
        return next((t - at for t in self.online_at if t > at), None)


def serving_server(stack: DemoStack) -> ChildProcess | None:
    """The AI server the gateway is connected to (an established TCP connection on its port)."""
    for child, port in ((stack.server, stack.audio_port), (stack.standby, stack.standby_port)):
        if child is None or child.pid is None:
            continue
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(child.pid).net_connections(kind="tcp"):
                if conn.laddr and conn.laddr.port == port and conn.status == "ESTABLISHED":
                    return child
    return None


async def restart(fault: str, stack: DemoStack, broker: Broker) -> str:
    """Kill -9 and start again at once; waits only for what a supervisor would (the start).
    Returns the name of the process killed."""
    if fault == "broker":
        await broker.kill_and_start()
        return "broker"
    child = (serving_server(stack) or stack.server) if fault == "server" else stack.gateway
    assert child is not None
    await kill9(child)
    await child.start()
    return child.name


async def until_answered(
    device: SimDevice, utterances: list[Utterance], killed_at: float, limit_s: float
) -> tuple[float | None, float | None, list[str]]:
    """Keep talking until a reply is heard: seconds from the kill to that reply's first audio,
    that turn's own end of speech -> first audio, and the outcomes of the tries."""
    attempts: list[str] = []
    i = 0
    while time.perf_counter() - killed_at < limit_s:
        if not device.connected:
            with contextlib.suppress(TimeoutError):
                await device.wait_connected(5.0)
            continue
        (outcome,) = await speak_and_wait(
            device, pcm(utterances[i % len(utterances)]), within_s=TURN_WITHIN_S
        )
        i += 1
        attempts.append(outcome.outcome)
        if outcome.answered and outcome.heard_at is not None:
            turn_s = outcome.first_audio_ms / 1000 if outcome.first_audio_ms else None
            return outcome.heard_at - killed_at, turn_s, attempts
        await asyncio.sleep(0.2)
    return None, None, attempts


async def new_session(
    device: SimDevice, offers_before: int, limit_s: float
) -> tuple[float | None, float | None]:
    """After a gateway restart: until the new gateway's offer is answered and connected.
    Returns perf_counter() when the offer arrived and when the session was up (None: never)."""
    deadline = time.perf_counter() + limit_s
    # the simulated device counts offers but has no event for them
    while device.offers <= offers_before and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    if device.offers <= offers_before:
        return None, None
    offered = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await device.wait_connected(max(0.1, deadline - time.perf_counter()))
        return offered, time.perf_counter()
    return offered, None


async def in_flight_outcome(
    device: SimDevice,
    since: int,
    mark: int,
    speech_end: float,
    session: asyncio.Task[tuple[float | None, float | None]] | None,
) -> TurnOutcome:
    """What became of the turn during which the process died. After a gateway kill nobody can
    answer or report it: it is over once the device has a session with the new gateway."""
    flight = asyncio.create_task(wait_outcome(device, since, mark, speech_end, TURN_WITHIN_S))
    if session is None:
        return await flight
    await asyncio.wait({flight, session}, return_when=asyncio.FIRST_COMPLETED)
    if flight.done():
        return flight.result()
    await cancel_and_wait([flight])
    return TurnOutcome("lost", notes=["a new session came first"])


async def next_reply_event(device: SimDevice, since: int, killed_at: float) -> float | None:
    with contextlib.suppress(TimeoutError):
        await device.wait_event("reply", since=since, within=90.0)
        return time.perf_counter() - killed_at
    return None


async def one_fault(
    fault: str,
    stack: DemoStack,
    broker: Broker,
    device: SimDevice,
    quiet: SimDevice,
    utterances: list[Utterance],
    limit_s: float,
    watch: GatewayOnline,
) -> Recovery:
    """Kill at the end of an utterance, while the server works on it; then talk until answered."""
    (normal,) = await speak_and_wait(device, pcm(utterances[4]), within_s=TURN_WITHIN_S)
    baseline_s = normal.first_audio_ms / 1000 if normal.first_audio_ms is not None else None
    since = len(device.events)
    speech_end = await device.say(pcm(utterances[0]))
    mark = device.recorder.mark()
    killed_at, offers_before = time.perf_counter(), device.offers
    killed = await restart(fault, stack, broker)
    print(f"  kill -9 {killed}", flush=True)
    event_task = asyncio.create_task(next_reply_event(device, since, killed_at))
    session = (
        asyncio.create_task(new_session(device, offers_before, limit_s))
        if fault == "gateway"
        else None
    )
    in_flight = await in_flight_outcome(device, since, mark, speech_end, session)
    gone = fault == "gateway" and in_flight.outcome == "lost"
    recovery = Recovery(fault, "gone with the gateway" if gone else in_flight.outcome)
    recovery.baseline_s, recovery.killed = baseline_s, killed
    if session is not None:  # before talking again: the old peer may still look connected
        offered, connected = await session
        recovery.offer_after_s = None if offered is None else offered - killed_at
        recovery.session_after_s = None if connected is None else connected - killed_at
        recovery.online_after_s = watch.first_after(killed_at)
    if in_flight.answered and in_flight.heard_at is not None:
        recovery.answered_after_s = in_flight.heard_at - killed_at
        if in_flight.first_audio_ms is not None:
            recovery.answering_turn_s = in_flight.first_audio_ms / 1000
        await wait_reply_end(device, in_flight, TURN_WITHIN_S)
    else:
        (
            recovery.answered_after_s,
            recovery.answering_turn_s,
            recovery.attempts,
        ) = await until_answered(device, utterances[1:], killed_at, limit_s)
    recovery.event_after_s = await event_task
    # a device that said nothing during the fault is served like before
    (other,) = await speak_and_wait(quiet, pcm(utterances[2]), within_s=TURN_WITHIN_S)
    recovery.other_device = other.outcome
    return recovery


async def run_chaos(args: argparse.Namespace) -> list[Recovery]:
    print(f"load average (1 min) at the start: {os.getloadavg()[0]:.1f}", flush=True)
    print(f"synthesizing {len(DEFAULT_UTTERANCES)} utterances with espeak-ng ...", flush=True)
    utterances = await asyncio.to_thread(make_utterances, list(DEFAULT_UTTERANCES))
    recoveries: list[Recovery] = []
    async with contextlib.AsyncExitStack() as stack:
        out_dir = args.keep_logs or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-chaos-"))
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        broker = Broker(out_dir)
        await broker.start()
        stack.push_async_callback(broker.stop)
        settings = StackSettings(
            out_dir=out_dir,
            mqtt_host="127.0.0.1",
            mqtt_port=broker.port,
            server_args=["--no-vision"],
            gateway_args=["--reply-timeout", "15"],
            standby_server=not args.no_standby,
        )
        print("starting the NAILA stack ...", flush=True)
        naila = await stack.enter_async_context(DemoStack(settings))
        watch = GatewayOnline("127.0.0.1", broker.port, settings.prefix)
        await stack.enter_async_context(watch.link)
        devices = []
        for name in ("chaos-talker", "chaos-quiet"):
            config = naila.device_config(name)
            config.loopback = True
            devices.append(await stack.enter_async_context(SimDevice(config)))
        talker, quiet = devices
        await asyncio.gather(*(d.wait_connected(60.0) for d in devices))
        (warm,) = await speak_and_wait(talker, pcm(utterances[3]), within_s=60.0)
        print(f"warm-up turn: {warm.outcome}", flush=True)
        for _ in range(args.rounds):
            for fault in args.fault or FAULTS:
                recovery = await one_fault(
                    fault, naila, broker, talker, quiet, utterances, args.recovery_limit, watch
                )
                recoveries.append(recovery)
                print(
                    f"  {fault}: answered after {fmt(recovery.answered_after_s)}, reply event "
                    f"after {fmt(recovery.event_after_s)}, attempts {recovery.attempts}",
                    flush=True,
                )
    return recoveries


def fmt(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def report(recoveries: list[Recovery]) -> int:
    print()
    print("seconds from the kill to: the next answered utterance (reply heard), the next reply")
    print("event on MQTT; turn = end of speech -> first reply audio of that answered utterance,")
    print("normal = the same for a turn just before the fault (the same machine load)")
    print(
        f"{'fault':8} {'killed':18} {'turn in flight':22} {'answered':>9} {'turn':>7} "
        f"{'event':>9} {'normal':>7} {'other device':>20}"
    )
    for r in recoveries:
        print(
            f"{r.fault:8} {r.killed:18} {r.in_flight:22} {fmt(r.answered_after_s):>9} "
            f"{fmt(r.answering_turn_s):>7} {fmt(r.event_after_s):>9} {fmt(r.baseline_s):>7} "
            f"{r.other_device:>20}"
        )
    for r in recoveries:
        if r.fault == "gateway":
            print(
                f"gateway restart: online on MQTT after {fmt(r.online_after_s)}, offer at the "
                f"device after {fmt(r.offer_after_s)}, WebRTC session up after "
                f"{fmt(r.session_after_s)}"
            )
    ok = True
    for fault in FAULTS:
        times = [r.answered_after_s for r in recoveries if r.fault == fault]
        if not times:
            continue
        recovered = [t for t in times if t is not None]
        ok &= len(recovered) == len(times)
        if recovered:
            worst = max(recovered)
            print(
                f"{fault}: recovered {len(recovered)}/{len(times)}, median "
                f"{statistics.median(recovered):.1f} s, worst {worst:.1f} s "
                f"(goal <= {GOAL_S:.0f} s: {'meets' if worst <= GOAL_S else 'misses'})"
            )
    ok &= all(r.other_device.startswith("answered") for r in recoveries)
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    print(f"verdict: {'every fault recovered' if ok else 'NOT every fault recovered'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if not args.no_netns:
        code = run_in_private_network("bench.chaos", argv)
        if code is not None:
            return code
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    recoveries = run_until_stopped(run_chaos(args))
    if recoveries is None:
        print("stopped by a signal; everything stopped", file=sys.stderr)
        return 130
    return report(recoveries)


if __name__ == "__main__":
    sys.exit(main())
