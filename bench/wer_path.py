"""Word error rate of the full voice path against bare faster-whisper on the same audio.

Utterances: espeak-ng (four voices, half with room noise at 20 dB SNR) and the Piper joe
voice. Each is transcribed

- `bare`: faster-whisper's own `WhisperModel.transcribe` (beam 1, int8, English) on the
  16 kHz speech as synthesized (trimmed to the speech, as a device would send it);
- stage by stage through the real parts, to find where words get lost: `stt` = NAILA's
  SttEngine on the same audio (`stt-no-lead-in`: without its 0.3 s lead-in of silence); `opus` = after an Opus round trip at 48 kHz (the simulated
  device's aiortc encoder: 96 kbps) and the gateway's Resampler to 16 kHz; `gateway` = that,
  cut by the gateway's own VAD and utterance detector (pre-roll, hang-over) from a stream
  with silence (or noise) before and after the speech;
- `full`: through the real stack (mosquitto, `python -m wyoming_bridge`, `python -m
  naila_gateway`, a simulated WebRTC device), reading the transcript the server reports.

Prints WER per stage and the full / bare ratio (goal <= 1.1), and the words each stage lost.

    .venv/bin/python -m bench.wer_path                  # ~5-10 min
    .venv/bin/python -m bench.wer_path --no-stack       # stages only
    .venv/bin/python -m bench.wer_path --stt-model base
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

from bench.wer_audio import (
    SpokenText,
    opus_round_trip,
    spoken_texts,
    to_16k,
    wer,
    word_errors,
)
from bench.wer_gateway import gateway_utterance

GOAL = 1.1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.wer_path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--stt-model",
        action="append",
        help="tiny.en (default), base or a dir; repeat to compare models in one run "
        "(the full path uses the first)",
    )
    parser.add_argument("--no-stack", action="store_true", help="offline stages only")
    parser.add_argument("--no-piper", action="store_true", help="espeak-ng voices only")
    parser.add_argument("--server-arg", action="append", default=[])
    parser.add_argument("--gateway-arg", action="append", default=[])
    parser.add_argument("--keep-logs", type=Path)
    return parser


def transcribe_stages(items: list[SpokenText], stt_model: str | None) -> dict[str, list[str]]:
    from faster_whisper import WhisperModel  # noqa: PLC0415

    from wyoming_bridge.models import whisper_model_dir  # noqa: PLC0415
    from wyoming_bridge.stt import SttEngine, SttSettings  # noqa: PLC0415

    model_dir = whisper_model_dir(stt_model)
    bare = WhisperModel(str(model_dir), device="cpu", compute_type="int8", local_files_only=True)
    engine = SttEngine(model_dir, SttSettings(model=stt_model))
    out: dict[str, list[str]] = {
        "bare": [],
        "stt-no-lead-in": [],
        "stt": [],
        "opus": [],
        "gateway": [],
    }
    stt_ms: list[float] = []
    for item in items:
        speech16 = to_16k(item.speech48)
        segments, _ = bare.transcribe(speech16, language="en", beam_size=1)
        out["bare"].append(" ".join(s.text.strip() for s in segments))
        with_lead_in = engine.settings
        engine.settings = dataclasses.replace(with_lead_in, lead_in_s=0.0)
        out["stt-no-lead-in"].append(engine.transcribe(speech16))
        engine.settings = with_lead_in
        started = time.perf_counter()
        out["stt"].append(engine.transcribe(speech16))
        stt_ms.append((time.perf_counter() - started) * 1e3)
        decoded = opus_round_trip(item.stream48)
        start = item.lead_frames * 960
        out["opus"].append(engine.transcribe(to_16k(decoded[start : start + item.speech48.size])))
        cut = gateway_utterance(decoded)
        out["gateway"].append(engine.transcribe(cut) if cut is not None else "")
    print(f"{model_dir.name}: NAILA STT median {statistics.median(stt_ms):.0f} ms per utterance")
    return out


async def full_path(items: list[SpokenText], args: argparse.Namespace) -> list[str]:
    from bench.gateway_procs import mosquitto  # noqa: PLC0415
    from naila_demo.conversation import TurnError, run_turn  # noqa: PLC0415
    from naila_demo.stack import DemoStack, StackSettings  # noqa: PLC0415
    from naila_sim import SimDevice  # noqa: PLC0415

    transcripts: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        out = args.keep_logs or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-wer-"))
        )
        port = await stack.enter_async_context(mosquitto())
        server_args = ["--no-vision", "--history-turns", "0", *args.server_arg]
        if args.stt_model:
            server_args += ["--stt-model", args.stt_model]
        settings = StackSettings(
            out_dir=out, mqtt_host="127.0.0.1", mqtt_port=port, server_args=server_args,
            gateway_args=["--reply-timeout", "60", *args.gateway_arg],
        )  # fmt: skip
        demo = await stack.enter_async_context(DemoStack(settings))
        for number, item in enumerate(items, 1):
            # a fresh device id each time: every utterance is heard as a first turn
            async with SimDevice(demo.device_config(f"bench-wer-{number}")) as device:
                await device.wait_connected(30.0)
                await device.say(item.stream48[: item.lead_frames * 960])
                events_before = len(device.events)
                try:
                    result = await run_turn(
                        device, item.stream48[item.lead_frames * 960 :], number, out, within_s=90
                    )
                    transcripts.append(result.transcript)
                except (TurnError, TimeoutError) as err:
                    seen = [e.get("event") for e in device.events[events_before:]]
                    print(
                        f"  full path failed for {item.text!r}: {err!r}; events {seen}", flush=True
                    )
                    transcripts.append("")
        print(log_findings(out / "logs" / "gateway.log"), flush=True)
    return transcripts


def log_findings(gateway_log: Path) -> str:
    """What the gateway's log says about lost audio: Opus decode failures, barge-ins, drops."""
    text = gateway_log.read_text(errors="replace") if gateway_log.exists() else ""
    counts = {
        "Opus decode failures": text.count("failed to decode opus frame"),
        "barge-ins": text.count("barge_in: output cleared"),
        "utterances sent": text.count(" sent ("),
    }
    return "gateway log: " + ", ".join(f"{name} {n}" for name, n in counts.items())


def report(items: list[SpokenText], results: dict[str, list[str]]) -> None:
    refs = [item.text for item in items]
    print(f"\n{len(items)} utterances ({', '.join(sorted({i.voice for i in items}))})")
    print(f"{'stage':10} {'WER':>7}  {'/ bare':>7}")
    base = wer(refs, results["bare"])
    for stage, hyps in results.items():
        value = wer(refs, hyps)
        print(f"{stage:10} {value * 100:6.1f}%  {value / base if base else float('nan'):7.2f}")
    for stage, hyps in results.items():
        lost = [
            f"{item.voice}: {item.text!r} -> {hyp!r}"
            for item, hyp in zip(items, hyps, strict=True)
            if word_errors(item.text, hyp)
            > word_errors(item.text, results["bare"][items.index(item)])
        ]
        if lost and stage != "bare":
            print(f"\nworse than bare at stage {stage}:")
            for line in lost:
                print(f"  {line}")
    if "full" in results:
        ratio = wer(refs, results["full"]) / base if base else float("nan")
        verdict = "meets" if ratio <= GOAL else "misses"
        print(f"\nfull path / bare: {ratio:.2f} (goal <= {GOAL}: {verdict})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    items = spoken_texts(piper=not args.no_piper)
    models = args.stt_model or ["tiny.en"]
    args.stt_model = models[0]
    for model in models[1:]:
        print(f"\n== Whisper {model}")
        report(items, transcribe_stages(items, model))
    print(f"\n== Whisper {models[0]}")
    results = transcribe_stages(items, models[0])
    if not args.no_stack:
        results["full"] = asyncio.run(full_path(items, args))
    report(items, results)
    print(f"\nbench wall time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
