"""First audio of spoken home commands answered by Home Assistant, against HA's own Assist.

Same run, same utterances, alternating blocks:
  NAILA   the real stack (mosquitto, AI server, gateway, simulated WebRTC device): device-measured
          first audio; the AI server routes the final transcript to HA's default agent over MQTT
          (bench/ha_host.py: a real HA core on the HA venv with lights in areas and the relay).
  anchor  HA Assist's shape on the same models: 0.7 s end-of-speech silence +
          wyoming-faster-whisper transcript -> HA's default agent (the same HA, called directly)
          -> wyoming-piper first chunk of HA's speech.
Goals: NAILA <= 0.5 x anchor end to end; HA round trip (server -> MQTT -> HA agent -> server)
median <= 60 ms. Prints route counts (which answers came from HA, which from the LLM and why).

    .venv/bin/python -m bench.ha_commands --turns 8      # ~5 min
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

from bench.anchor import HA_VAD_SILENCE_S, AnchorConfig, AnchorPipeline
from bench.gateway_procs import mosquitto
from bench.speech import Utterance, make_utterances, silence
from naila_demo.conversation import run_turn
from naila_demo.stack import DemoStack, StackSettings
from naila_sim import SimDevice

_LOGGER = logging.getLogger("bench.ha_commands")
REPO = Path(__file__).resolve().parents[1]
GOAL_RATIO = 0.5
GOAL_HA_MS = 60.0
COMMANDS = (
    "turn off the kitchen lights",
    "turn on the kitchen lights",
    "what time is it",
    "turn off the lights in the kitchen",
    "turn on the lights in the kitchen",
)
"""Commands HA's default agent handles in the bench home (tests/ha/home.py)."""
HA_START_S = 120.0


class HaHost:
    """bench/ha_host.py on the HA venv: start, converse, reset, stop (JSON lines)."""

    def __init__(self, python: str, mqtt_port: int) -> None:
        self.python, self.mqtt_port = python, mqtt_port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            self.python, "-m", "bench.ha_host", "--mqtt-port", str(self.mqtt_port),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True,
        )  # fmt: skip
        ready = await asyncio.wait_for(self._read(), HA_START_S)
        if not ready.get("ready"):
            raise RuntimeError(f"HA host failed: {ready}")

    async def _read(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            if line.startswith(b"{"):
                return dict(json.loads(line))
        raise RuntimeError(f"HA host exited ({await self.proc.wait()})")

    async def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()
        return await asyncio.wait_for(self._read(), 60)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


@dataclass(slots=True)
class Turn:
    text: str
    e2e_ms: float
    route: str
    ha_ms: float | None = None
    transcript: str = ""
    reply: str = ""
    parts: str = ""
    """Where the time went (ms)."""


async def anchor_turn(anchor: AnchorPipeline, ha: HaHost, utterance: Utterance) -> Turn:
    """0.7 s + Whisper transcript -> HA's agent -> Piper's first chunk of HA's speech."""
    transcript, t_stop = await anchor.transcribe(
        utterance.pcm16k + silence(HA_VAD_SILENCE_S, 16000)
    )
    stt_ms = (time.perf_counter() - t_stop) * 1e3
    answer = await ha.ask({"text": transcript})
    t_tts = time.perf_counter()
    t_first, _done = await anchor.synthesize(answer["speech"] or "Done.")
    tts_ms = (t_first - t_tts) * 1e3
    server_ms = stt_ms + float(answer["agent_ms"]) + tts_ms
    route = "ha" if answer["handled"] else "not handled"
    parts = f"stt {stt_ms:.0f} agent {answer['agent_ms']:.0f} tts {tts_ms:.0f}"
    return Turn(utterance.text, HA_VAD_SILENCE_S * 1e3 + server_ms, route, None, transcript,
                answer["speech"], parts)  # fmt: skip


async def naila_turn(device: SimDevice, utterance: Utterance, index: int, out: Path) -> Turn:
    import numpy as np  # noqa: PLC0415

    speech = np.frombuffer(utterance.pcm48k, dtype="<i2")
    result = await run_turn(device, speech, index, out, within_s=120)
    event = next(e for e in reversed(device.events) if e.get("event") == "reply")
    reason = event.get("route_reason") or ""
    route = f"{event.get('route')}/{reason}"
    parts = " ".join(f"{k.removesuffix('_ms')} {v:.0f}" for k, v in result.timings.items())
    return Turn(utterance.text, float(result.first_audio_ms or float("nan")), route,
                result.timings.get("ha_ms"), result.transcript, result.reply, parts)  # fmt: skip


def _median(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def report(naila: list[Turn], anchor: list[Turn]) -> None:
    n_med, a_med = _median([t.e2e_ms for t in naila]), _median([t.e2e_ms for t in anchor])
    ha = [t.ha_ms for t in naila if t.ha_ms is not None]
    ratio = n_med / a_med if a_med else float("nan")
    print("\n== first audio of home commands (ms, median) ==")
    print(f"  NAILA through HA (device-measured) {n_med:7.0f}   n={len(naila)}")
    print(f"  anchor: HA Assist shape            {a_med:7.0f}   n={len(anchor)}")
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    print(f"  ratio NAILA / anchor               {ratio:7.2f}   goal <= {GOAL_RATIO} ({verdict})")
    if ha:
        med = statistics.median(ha)
        verdict = "met" if med <= GOAL_HA_MS else "NOT met"
        print(f"  HA round trip median {med:.1f} ms, max {max(ha):.1f} ms "
              f"(goal <= {GOAL_HA_MS:.0f} ms: {verdict})")  # fmt: skip
    print("  routes (NAILA):", dict(collections.Counter(t.route for t in naila)))
    print("  routes (anchor):", dict(collections.Counter(t.route for t in anchor)))
    for t in naila:
        print(f"    naila  {t.e2e_ms:6.0f} ms  {t.route:22s} {t.transcript!r} -> {t.reply!r}")
        print(f"           ({t.parts})")
    for t in anchor:
        print(f"    anchor {t.e2e_ms:6.0f} ms  {t.route:22s} {t.transcript!r} -> {t.reply!r}")
        print(f"           ({t.parts})")


async def run(args: argparse.Namespace) -> None:
    utterances = await asyncio.to_thread(make_utterances, list(COMMANDS))
    naila: list[Turn] = []
    anchor_turns: list[Turn] = []
    async with contextlib.AsyncExitStack() as stack:
        out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ha-")))
        port = await stack.enter_async_context(mosquitto())
        ha = HaHost(args.ha_python, port)
        await ha.start()
        stack.push_async_callback(ha.stop)
        settings = StackSettings(
            out_dir=out, mqtt_host="127.0.0.1", mqtt_port=port,
            server_args=["--no-vision", "--history-turns", "0"],
            gateway_args=["--reply-timeout", "60"],
        )  # fmt: skip
        print("starting the NAILA stack, HA and the anchor servers ...", flush=True)
        naila_stack = await stack.enter_async_context(DemoStack(settings))
        anchor = await stack.enter_async_context(
            AnchorPipeline(AnchorConfig.packaged(), with_llm=False)
        )
        device = await stack.enter_async_context(SimDevice(naila_stack.device_config("bench-ha")))
        await device.wait_connected(30.0)
        print("warming up ...", flush=True)
        await naila_turn(device, utterances[0], 0, out)
        await anchor_turn(anchor, ha, utterances[0])
        await ha.ask({"reset": True})
        for i in range(args.turns):
            utterance = utterances[i % len(utterances)]
            naila.append(await naila_turn(device, utterance, i + 1, out))
            await ha.ask({"reset": True})
            anchor_turns.append(await anchor_turn(anchor, ha, utterance))
            await ha.ask({"reset": True})
            print(f"  turn {i + 1}: naila {naila[-1].e2e_ms:.0f} ms ({naila[-1].route}), "
                  f"anchor {anchor_turns[-1].e2e_ms:.0f} ms", flush=True)  # fmt: skip
    report(naila, anchor_turns)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ha_commands", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--turns", type=int, default=8, help="turns of each system")
    parser.add_argument(
        "--ha-python",
        default=os.environ.get("NAILA_HA_PY") or str(REPO / ".venv-ha" / "bin" / "python"),
        help="the Home Assistant venv's interpreter [NAILA_HA_PY]",
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
