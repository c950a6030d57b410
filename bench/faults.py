"""What the soak and chaos benches share: a private network, a restartable broker, kill -9,
process resource samples, and the outcome of one spoken turn as the device sees it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.gateway_procs import REPO
from naila_demo.broker import mosquitto_binary, mosquitto_config
from naila_demo.children import ChildProcess, free_port
from naila_protocol.mqtt import Incoming, MqttLink, MqttSettings, unique_client_id
from naila_protocol.topics import QOS_RELIABLE, Topics
from naila_sim import SimDevice

NETNS_ENV = "NAILA_BENCH_NETNS"
IN_NETNS = REPO / "scripts" / "in-netns"
FAILURE_EVENTS = ("server_unavailable", "reply_timeout", "error")
EVENT_AUDIO_GRACE_S = 5.0
"""How long reply audio may trail the gateway's `reply` event before the turn counts as
answered by the event only."""
END_OF_REPLY_FRAMES = 40
"""Silent 20 ms frames after which a reply counts as finished (0.8 s)."""


def run_in_private_network(module: str, argv: Sequence[str]) -> int | None:
    """Re-run `python -m module argv` in a private network namespace (scripts/in-netns) and
    return its exit code; inside the namespace, return None."""
    if os.environ.get(NETNS_ENV) == "1":
        return None
    command = [str(IN_NETNS), sys.executable, "-m", module, *argv]
    child = subprocess.Popen(command, env={**os.environ, NETNS_ENV: "1"})

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)  # the child stops its processes and reports

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    return child.wait()


def error_lines(log_dir: Path) -> dict[str, int]:
    """ERROR and traceback lines per child log (a clean run has none)."""
    counts = {}
    for log in sorted(log_dir.glob("*.log")):
        text = log.read_text(errors="replace")
        counts[log.stem] = sum(
            " ERROR " in line or line.startswith("Traceback") for line in text.splitlines()
        )
    return counts


async def kill9(child: ChildProcess) -> None:
    """SIGKILL the child's process group and reap it (no clean shutdown, like a crash)."""
    if child.pid is None or child.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    await child.wait_exit()


class Broker:
    """mosquitto on one fixed 127.0.0.1 port (so clients find it again after a restart)."""

    def __init__(self, work_dir: Path) -> None:
        self.port = free_port()
        self.work_dir = work_dir
        conf = work_dir / "mosquitto.conf"
        conf.write_text(mosquitto_config(self.port))
        self.child = ChildProcess(
            "mosquitto",
            [mosquitto_binary(), "-c", str(conf)],
            log_path=work_dir / "mosquitto.log",
            stop_signals=(signal.SIGTERM,),
        )

    async def start(self) -> None:
        await self.child.start()
        await self.child.wait_for_port("127.0.0.1", self.port, 10.0)

    async def stop(self) -> None:
        await self.child.stop()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def kill_and_start(self) -> None:
        await kill9(self.child)
        await self.start()


@dataclass(slots=True)
class ResourceSample:
    at_s: float
    rss_mb: float
    open_files: int
    threads: int
    tasks: int | None


def sample_process(pid: int | None, at_s: float, tasks: int | None) -> ResourceSample | None:
    """RSS, open file descriptors and threads of one process (None if it is gone)."""
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            return ResourceSample(
                at_s, proc.memory_info().rss / 1e6, proc.num_fds(), proc.num_threads(), tasks
            )
    except psutil.Error:
        return None


class TaskCounts:
    """The latest `tasks` figure of the gateway (gateway/metrics) and server (server/metrics),
    read through a link of its own that rides out broker restarts."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.topics = Topics(prefix)
        self.gateway: int | None = None
        self.server: int | None = None
        self.link = MqttLink(
            MqttSettings(host=host, port=port, prefix=prefix),
            client_id=unique_client_id("naila-bench-monitor"),
            on_message=self._on_message,
            subscriptions=[
                (self.topics.gateway_metrics, QOS_RELIABLE),
                (self.topics.server_metrics, QOS_RELIABLE),
            ],
        )

    def _on_message(self, message: Incoming) -> None:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            tasks = json.loads(message.payload).get("tasks")
            if isinstance(tasks, int):
                if message.topic == self.topics.gateway_metrics:
                    self.gateway = tasks
                else:
                    self.server = tasks


def window_median(
    samples: list[ResourceSample], start_s: float, end_s: float, key: str
) -> float | None:
    values = [
        float(getattr(s, key))
        for s in samples
        if start_s <= s.at_s <= end_s and getattr(s, key) is not None
    ]
    return statistics.median(values) if values else None


@dataclass(slots=True)
class TurnOutcome:
    """What the device got for one utterance."""

    outcome: str
    """answered | answered_audio_only (the reply event was lost with MQTT) |
    answered_event_only (the audio was lost with the WebRTC connection) | interrupted (barge-in)
    | server_unavailable | reply_timeout | error | session_closed (the session ended mid-turn)
    | lost"""
    first_audio_ms: float | None = None
    heard_at: float | None = None
    """perf_counter() when the first voiced reply frame arrived."""
    heard_index: int | None = None
    """The recorder's index of that frame."""
    event: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.outcome.startswith("answered")


def _failure_since(device: SimDevice, since: int) -> dict[str, Any] | None:
    for event in device.events[since:]:
        if event.get("event") in (*FAILURE_EVENTS, "session_closed") or (
            event.get("event") == "interrupted" and event.get("reason") == "session_closed"
        ):
            return event
    return None


def _event_since(device: SimDevice, since: int, name: str) -> dict[str, Any] | None:
    for event in device.events[since:]:
        if event.get("event") == name:
            return event
    return None


async def speak_and_wait(
    device: SimDevice, speech: np.ndarray, *, within_s: float, barge_in: np.ndarray | None = None
) -> list[TurnOutcome]:
    """Say `speech`; wait for reply audio or a failure event. With `barge_in`, speak it over
    the reply as soon as the reply is heard: two outcomes (the first should be interrupted)."""
    since = len(device.events)
    speech_end = await device.say(speech)
    mark = device.recorder.mark()
    outcome = await wait_outcome(device, since, mark, speech_end, within_s)
    if barge_in is None or not outcome.answered:
        if outcome.answered:
            await wait_reply_end(device, outcome, within_s)
            await _classify_reply_event(device, since, outcome)
        return [outcome]
    await asyncio.sleep(0.3)  # well into the reply
    barge_since = len(device.events)
    second_end = await device.say(barge_in)
    second_mark = device.recorder.mark()
    # the first reply must stop (interrupted) unless it had already ended
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if _event_since(device, barge_since, "interrupted") is not None:
            outcome.outcome = "interrupted"
            break
        if _event_since(device, since, "reply") is not None:
            break
        await asyncio.sleep(0.05)
    if outcome.outcome == "answered":
        await _classify_reply_event(device, since, outcome)
    second = await wait_outcome(device, barge_since, second_mark, second_end, within_s)
    if second.answered:
        await wait_reply_end(device, second, within_s)
        await _classify_reply_event(device, barge_since, second)
    return [outcome, second]


async def wait_outcome(
    device: SimDevice, since: int, mark: int, speech_end: float, within_s: float
) -> TurnOutcome:
    deadline = time.monotonic() + within_s
    event_only: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        voiced = device.recorder.first_voiced(mark)
        if voiced is not None:
            heard_at = device.recorder.time_of(voiced)
            return TurnOutcome("answered", (heard_at - speech_end) * 1000, heard_at, voiced)
        failure = _failure_since(device, since)
        if failure is not None:
            name = str(failure.get("event"))
            if name == "interrupted":  # with reason session_closed
                name = "session_closed"
            return TurnOutcome(name, event=failure)
        reply = _event_since(device, since, "reply")
        if reply is not None and reply.get("first_audio_ms") is None:
            return TurnOutcome("answered", event=reply, notes=["reply without audio"])
        if reply is not None:
            # played by the gateway: its audio may still be on the way, or lost on a dying
            # connection (the device then has the reply's text, not its sound)
            deadline = min(deadline, time.monotonic() + EVENT_AUDIO_GRACE_S)
            event_only = reply
        await asyncio.sleep(0.05)
    if event_only is not None:
        return TurnOutcome("answered_event_only", event=event_only)
    return TurnOutcome("lost", notes=[f"nothing within {within_s:.0f} s"])


async def wait_reply_end(device: SimDevice, outcome: TurnOutcome, within_s: float) -> None:
    """Until the reply went quiet; then release the heard audio (long runs stay small)."""
    recorder = device.recorder
    if outcome.heard_index is None:
        return
    with contextlib.suppress(TimeoutError):
        end = await recorder.wait_quiet(outcome.heard_index, END_OF_REPLY_FRAMES, within_s)
        recorder.forget_before(end)


async def _classify_reply_event(
    device: SimDevice, since: int, outcome: TurnOutcome, grace_s: float = 2.0
) -> None:
    """An answered turn whose `reply` event never came (MQTT was down) is audio-only."""
    deadline = time.monotonic() + grace_s
    while (event := _event_since(device, since, "reply")) is None:
        if time.monotonic() > deadline:
            outcome.outcome = "answered_audio_only"
            return
        await asyncio.sleep(0.05)
    outcome.event = event
