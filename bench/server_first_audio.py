"""Server-only first audio: NAILA's audio socket against Home Assistant's Assist pipeline shape.

NAILA: end of request (last byte of a STREAM frame, or the FINAL frame after real-time
CHUNKs) -> first reply audio byte on the gateway audio socket of `python -m wyoming_bridge`.
Anchor: AudioStop -> first TTS AudioChunk through wyoming-faster-whisper -> the same LLM's
full reply -> wyoming-piper (bench/anchor.py). Same utterances, models, machine and run;
NAILA and anchor turns alternate so they share the machine's noise.

    python -m bench.server_first_audio --turns 3
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.anchor import HA_VAD_SILENCE_S, AnchorConfig, AnchorPipeline, AnchorTiming
from bench.cli import add_run_arguments, bench_utterances, parse_bench_args
from bench.naila_client import FRAME_MS, NailaTiming, measure_chunked, measure_stream
from bench.speech import Utterance, silence
from naila_demo.children import ChildProcess, free_port
from naila_gateway.config import GatewayConfig
from wyoming_bridge.stt import SttSettings

_LOGGER = logging.getLogger("bench.server_first_audio")

SERVER_GOAL = 0.7
END_TO_END_GOAL = 0.5
MODES = ("stream", "chunked")
NAILA_START_TIMEOUT_S = 300.0
NAILA_STAGES = ("stt_ms", "llm_first_token_ms", "tts_first_chunk_ms", "first_audio_ms")
"""ReplySummary timings the server reports in END frames (measured inside the server)."""


@dataclass(slots=True)
class UtteranceResults:
    """Every measured turn of one utterance."""

    utterance: Utterance
    naila: dict[str, list[NailaTiming]] = field(default_factory=lambda: {m: [] for m in MODES})
    anchor: list[AnchorTiming] = field(default_factory=list)


def build_parser() -> argparse.ArgumentParser:
    gateway = GatewayConfig()
    parser = argparse.ArgumentParser(
        prog="python -m bench.server_first_audio",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    run = add_run_arguments(
        parser,
        turns=3,
        turns_help="measured turns per utterance and system",
        warmup=2,
        max_seconds=900.0,
    )
    run.add_argument(
        "--modes",
        default=",".join(MODES),
        help="NAILA request forms to measure: stream, chunked or both (default: %(default)s)",
    )
    naila = parser.add_argument_group("NAILA server")
    naila.add_argument(
        "--server-python",
        default=sys.executable,
        help="interpreter with wyoming_bridge installed (default: this one)",
    )
    naila.add_argument(
        "--naila-rate",
        type=int,
        choices=(16000, 48000),
        default=48000,
        help="sample rate of the requests sent to the audio socket (default: %(default)s)",
    )
    naila.add_argument(
        "--silence-frames",
        type=int,
        default=gateway.silence_frames,
        help="gateway hang-over in 20 ms frames, AUDIO_SILENCE_FRAMES (default: %(default)s)",
    )
    naila.add_argument(
        "--chunk-frames",
        type=int,
        default=gateway.chunk_frames,
        help="20 ms frames per CHUNK frame, AUDIO_CHUNK_FRAMES (default: %(default)s)",
    )
    naila.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for python -m wyoming_bridge (repeatable, e.g. --server-arg=--debug)",
    )
    anchor = parser.add_argument_group("anchor (HA Assist pipeline shape)")
    anchor.add_argument(
        "--anchor-beam-size",
        type=int,
        default=SttSettings().beam_size,
        help="wyoming-faster-whisper --beam-size; default NAILA's own (%(default)s), "
        "0 = wyoming-faster-whisper's auto (5 on x86)",
    )
    return parser


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


async def start_naila(args: argparse.Namespace, log_dir: Path) -> tuple[ChildProcess, int]:
    """`python -m wyoming_bridge` with its gateway audio socket on a free port (no Wyoming)."""
    port = free_port()
    server = ChildProcess(
        "wyoming_bridge",
        [
            args.server_python, "-m", "wyoming_bridge",
            "--audio-socket-host", "127.0.0.1",
            "--audio-socket-port", str(port),
            "--no-wyoming",
            *args.server_arg,
        ],
        log_path=log_dir / "naila.log",
        stop_signals=(signal.SIGTERM,),
    )  # fmt: skip
    await server.start()
    return server, port


async def naila_turn(
    args: argparse.Namespace, port: int, utterance: Utterance, mode: str, request_id: str
) -> NailaTiming:
    """One request; a fresh device id per request keeps the prompt as fresh as the anchor's."""
    hangover_s = args.silence_frames * FRAME_MS / 1000
    speech = utterance.pcm48k if args.naila_rate == 48000 else utterance.pcm16k
    pcm = speech + silence(hangover_s, args.naila_rate)
    device = f"bench_{request_id}"
    if mode == "stream":
        return await measure_stream(
            "127.0.0.1", port, pcm, args.naila_rate, device, request_id, hangover_s
        )
    return await measure_chunked(
        "127.0.0.1", port, pcm, args.naila_rate, device, request_id, hangover_s, args.chunk_frames
    )


def anchor_audio(utterance: Utterance) -> bytes:
    """What HA streams to STT: the speech and its 0.7 s end-of-speech silence."""
    return utterance.pcm16k + silence(HA_VAD_SILENCE_S, 16000)


async def run_bench(args: argparse.Namespace) -> list[UtteranceResults]:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        raise SystemExit(f"unknown --modes {sorted(unknown)}; choose from {MODES}")
    utterances = await bench_utterances(args)
    results = [UtteranceResults(u) for u in utterances]
    config = AnchorConfig.packaged(beam_size=args.anchor_beam_size)
    with tempfile.TemporaryDirectory(prefix="naila-bench-") as tmp:
        naila, port = await start_naila(args, Path(tmp))
        try:
            async with AnchorPipeline(config) as anchor:
                await naila.wait_for_port("127.0.0.1", port, NAILA_START_TIMEOUT_S)
                print(f"servers ready; anchor whisper beam {config.beam_size}, cpu threads "
                      f"{config.cpu_threads} (0 = CTranslate2 default); NAILA requests at "
                      f"{args.naila_rate} Hz; warming up ({args.warmup} turns each) ...",
                      flush=True)  # fmt: skip
                for index in range(args.warmup):
                    for mode in modes:
                        await naila_turn(args, port, utterances[0], mode, f"warm{index}{mode}")
                    await anchor.measure(anchor_audio(utterances[0]))
                await measure_all(args, modes, port, anchor, results)
        except BaseException:
            print(f"--- NAILA server log (tail) ---\n{naila.log_tail()}", file=sys.stderr)
            raise
        finally:
            await naila.stop()
    return results


async def measure_all(
    args: argparse.Namespace,
    modes: list[str],
    port: int,
    anchor: AnchorPipeline,
    results: list[UtteranceResults],
) -> None:
    """Alternate NAILA and anchor turns (order flips every turn) until done or out of time."""
    deadline = time.monotonic() + args.max_seconds
    for turn in range(args.turns):
        for index, result in enumerate(results):
            if time.monotonic() > deadline:
                print(f"--max-seconds reached after {turn} full turns", flush=True)
                return
            naila_first = (turn + index) % 2 == 0
            if not naila_first:
                result.anchor.append(await anchor.measure(anchor_audio(result.utterance)))
            for mode in modes:
                timing = await naila_turn(
                    args, port, result.utterance, mode, f"t{turn}u{index}{mode}"
                )
                result.naila[mode].append(timing)
            if naila_first:
                result.anchor.append(await anchor.measure(anchor_audio(result.utterance)))
        print(f"turn {turn + 1}/{args.turns} done", flush=True)


def report(args: argparse.Namespace, results: list[UtteranceResults]) -> None:
    modes = [m for m in MODES if any(r.naila[m] for r in results)]
    hangover_ms = args.silence_frames * FRAME_MS
    print()
    print("Server-only first audio, ms (median over turns). NAILA: end of request -> first reply")
    print("byte on the audio socket. Anchor: AudioStop -> first wyoming-piper AudioChunk.")
    header = f"{'utterance':34} {'s':>4} " + " ".join(f"{'naila ' + m:>14}" for m in modes)
    print(header + f" {'anchor':>8} {'(stt':>6} {'llm':>5} {'tts1)':>6} {'tts-all':>8}")
    for r in results:
        row = f"{r.utterance.text[:34]:34} {r.utterance.seconds:4.1f} "
        row += " ".join(f"{_median([t.server_ms for t in r.naila[m]]):14.0f}" for m in modes)
        a = r.anchor
        stt, llm = _median([t.stt_ms for t in a]), _median([t.llm_ms for t in a])
        server = _median([t.server_ms for t in a])
        row += f" {server:8.0f} {stt:6.0f} {llm:5.0f} {server - stt - llm:6.0f}"
        row += f" {_median([t.tts_done_ms for t in a]):8.0f}"
        print(row)
    anchor_all = [t.server_ms for r in results for t in r.anchor]
    anchor_done = [t.tts_done_ms for r in results for t in r.anchor]
    anchor_median = _median(anchor_all)
    print()
    print(f"turns per utterance: {args.turns}; samples: anchor {len(anchor_all)}")
    print(f"anchor server-only median {anchor_median:.0f} ms "
          f"(AudioStop -> TTS AudioStop, what HA 2025.4's wyoming TTS waits for: "
          f"{_median(anchor_done):.0f} ms)")  # fmt: skip
    anchor_e2e = HA_VAD_SILENCE_S * 1000 + anchor_median
    for mode in modes:
        naila_all = [t.server_ms for r in results for t in r.naila[mode]]
        naila_median = _median(naila_all)
        ratio = _ratio(naila_median, anchor_median)
        verdict = "meets" if ratio <= SERVER_GOAL else "misses"
        print(f"NAILA {mode:7} server-only median {naila_median:.0f} ms over {len(naila_all)} "
              f"samples; ratio NAILA/anchor {ratio:.2f} (goal <= {SERVER_GOAL}: {verdict})")  # fmt: skip
        stages = {
            stage: _median([t.summary.timings[stage] for r in results for t in r.naila[mode]
                            if stage in t.summary.timings])
            for stage in NAILA_STAGES
        }  # fmt: skip
        print("    server's own stage timings (median ms): "
              + ", ".join(f"{name} {value:.0f}" for name, value in stages.items()))  # fmt: skip
    print()
    print(f"End to end (last speech sample -> first reply byte of the server), ms: anchor = "
          f"{HA_VAD_SILENCE_S * 1000:.0f} (HA VAD silence) + server; NAILA = {hangover_ms} "
          f"(gateway hang-over, {args.silence_frames} x {FRAME_MS} ms) + server")  # fmt: skip
    print(f"anchor end to end {anchor_e2e:.0f} ms")
    for mode in modes:
        naila_e2e = _median([t.end_to_end_ms for r in results for t in r.naila[mode]])
        ratio = _ratio(naila_e2e, anchor_e2e)
        verdict = "meets" if ratio <= END_TO_END_GOAL else "misses"
        print(f"NAILA {mode:7} end to end {naila_e2e:.0f} ms; ratio {ratio:.2f} "
              f"(goal <= {END_TO_END_GOAL}: {verdict})")  # fmt: skip
    sample = next(
        (t for r in results for t in r.naila.get("stream", []) + r.naila["chunked"]), None
    )
    if sample is not None:
        print(f"\nexample NAILA reply: {sample.summary.transcript!r} -> {sample.summary.reply!r} "
              f"timings {sample.summary.timings}")  # fmt: skip
    if results and results[0].anchor:
        t = results[0].anchor[0]
        print(f"example anchor reply: {t.transcript!r} -> {t.reply!r}")


async def _main(args: argparse.Namespace) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    started = time.monotonic()
    results = await run_bench(args)
    report(args, results)
    print(f"\nbench wall time {time.monotonic() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_bench_args(build_parser(), argv)
    try:
        asyncio.run(_main(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
