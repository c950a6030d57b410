"""End of turn: false cut-offs and end-of-turn delay of fixed hang-overs and semantic ones.

One live pass records, for every bench utterance (bench/turn_set.py), what the gateway's
VAD said per 20 ms frame and every TURN verdict the real AI server sent (with the time it
arrived): the server runs its default speculation, text rules and Smart Turn v3.2; the
gateway is a real VoiceSession on a real-time frame clock whose turn only ends after
`--record-seconds` of silence, so every pause is seen. Each policy is then replayed on those
records with the gateway's own UtteranceDetector and TurnGate: fixed 300 ms (NAILA's old
default), fixed 700 ms (Home Assistant's), and semantic ones built from each signal.

    python -m bench.end_of_turn [--limit N] [--json FILE]

A false cut-off is a turn ended before its speaker finished (inside the inserted pause);
the delay is from the last spoken sample to the end of the turn, over turns not cut off.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.turn_set import TurnSample, build_set
from naila_gateway.config import GatewayConfig
from naila_gateway.end_of_turn import EndOfTurnMode, EndOfTurnSettings, TurnGate
from naila_gateway.listening.settings import ListeningSettings
from naila_gateway.metrics import GatewayMetrics
from naila_gateway.pcm import FRAME_SAMPLES, FRAME_SECONDS
from naila_gateway.server_client import ServerClient
from naila_gateway.utterance import UtteranceDetector, UtteranceEvent
from naila_gateway.vad import EnergyVad
from naila_gateway.voice import VoiceSession
from naila_protocol.framing import Frame, FrameKind, TurnVerdict
from naila_protocol.vocab import ListeningMode

FRAME_MS = FRAME_SECONDS * 1000
Judge = Callable[[TurnVerdict], TurnVerdict]


@dataclass(slots=True)
class Record:
    """What one live pass saw for one utterance."""

    sample: TurnSample
    speech: list[bool] = field(default_factory=list)
    verdicts: list[tuple[float, TurnVerdict]] = field(default_factory=list)
    """(ms after the first frame was fed, verdict), for this utterance's request."""


class RecordingSession(VoiceSession):
    """A VoiceSession that also keeps every TURN verdict and when it arrived."""

    record: Record | None = None
    started_at = 0.0

    def on_reply_frame(self, frame: Frame) -> None:
        if (
            frame.kind is FrameKind.TURN
            and self.record is not None
            and frame.request_id == self.utterance_id
        ):
            arrived = (time.perf_counter() - self.started_at) * 1000
            self.record.verdicts.append((arrived, TurnVerdict.from_frame(frame)))
        super().on_reply_frame(frame)


def frames_of(sample: TurnSample, tail_seconds: float) -> list[np.ndarray]:
    tail = np.zeros(int(tail_seconds * 48000), dtype=np.int16)
    audio = np.concatenate((sample.audio, tail))
    usable = audio[: audio.size - audio.size % FRAME_SAMPLES]
    return list(usable.reshape(-1, FRAME_SAMPLES))


async def record_all(samples: list[TurnSample], port: int, record_seconds: float) -> list[Record]:
    """The live pass: real-time frames into a RecordingSession talking to the real server."""
    client = ServerClient([("127.0.0.1", port)])
    client.start()
    await asyncio.wait_for(client.wait_connected(), 10)
    live = EndOfTurnSettings(EndOfTurnMode.SEMANTIC, record_seconds, record_seconds, record_seconds)
    config = GatewayConfig(
        end_of_turn=live, listening=ListeningSettings(listening_mode=ListeningMode.ALWAYS)
    )
    session = RecordingSession(
        "bench-turn",
        config,
        server=client,
        publish=lambda *args, **kwargs: None,
        metrics=GatewayMetrics(),
        logger=logging.getLogger("bench.session"),
    )
    vad = EnergyVad(config.effective_vad_threshold)
    records = []
    try:
        for sample in samples:
            record = session.record = Record(sample)
            frames = frames_of(sample, record_seconds + 0.2)
            session.started_at = start = time.perf_counter()
            for index, frame in enumerate(frames):
                await asyncio.sleep(max(0.0, start + index * FRAME_SECONDS - time.perf_counter()))
                record.speech.append(await vad.is_speech(frame))
                await session.feed(frame)
            await session.interrupt(reason="bench")
            records.append(record)
            print(
                f"  {sample.name}: {len(record.verdicts)} verdict(s) "
                + " ".join(
                    f"[{v.complete} {v.reason} p={v.probability} {v.transcript!r}]"
                    for _, v in record.verdicts[-2:]
                ),
                flush=True,
            )
            await asyncio.sleep(0.3)
    finally:
        await session.close()
        await client.stop()
    return records


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    settings: EndOfTurnSettings
    fixed_frames: int = 15
    judge: Judge | None = None
    """Turns the recorded verdict into this policy's (None: the fixed hang-over)."""
    audio_only: bool = False
    """Its verdict needs no transcript: it arrives when the model is done."""


def replay(record: Record, policy: Policy) -> float | None:
    """Audio time (ms) at which the policy ends the turn; None if it never does."""
    gate = TurnGate(policy.settings, policy.fixed_frames)
    detector = UtteranceDetector(
        silence_frames=policy.fixed_frames, preroll_frames=15, min_speech_frames=10, max_frames=1500
    )
    pending = sorted(_arrivals(record, policy))
    frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    for index, speech in enumerate(record.speech):
        while pending and pending[0][0] <= index * FRAME_MS:
            gate.on_verdict(pending.pop(0)[1])
        detector.silence_frames = gate.required_frames()
        event = detector.feed(frame, speech)
        gate.observe(speech, len(detector.frames))
        if event is UtteranceEvent.STARTED:
            gate.reset()
        elif event is UtteranceEvent.ENDED:
            return (index + 1) * FRAME_MS
    return None


def _arrivals(record: Record, policy: Policy) -> list[tuple[float, TurnVerdict]]:
    if policy.judge is None:
        return []
    out = []
    for at, verdict in record.verdicts:
        arrived = at
        if policy.audio_only:  # no need to wait for the transcript
            arrived -= verdict.timings.get("text_ms", 0.0) - verdict.timings.get("model_ms", 0.0)
        out.append((arrived, policy.judge(verdict)))
    return out


def judge_with(signals: str, threshold: float) -> Judge:
    from wyoming_bridge.turn_detector import TurnDetector, TurnSettings, TurnSignals  # noqa: PLC0415

    detector = TurnDetector(TurnSettings(signals=TurnSignals(signals), threshold=threshold))

    def judge(verdict: TurnVerdict) -> TurnVerdict:
        return detector.decide(verdict.transcript, verdict.probability, verdict.audio_ms)

    return judge


def policies(min_silence: float, max_silence: float, wait: float) -> list[Policy]:
    semantic = EndOfTurnSettings(
        EndOfTurnMode.SEMANTIC,
        min_silence_s=min_silence,
        max_silence_s=max_silence,
        verdict_wait_s=wait,
    )
    fixed = EndOfTurnSettings()
    out = [Policy("fixed 300 ms", fixed, 15), Policy("HA fixed 700 ms", fixed, 35)]
    for signals, threshold in (
        ("audio", 0.5),
        ("audio", 0.8),
        ("text", 0.5),
        ("text+audio", 0.5),
        ("text+audio", 0.8),
    ):
        name = f"semantic {signals}" + ("" if signals == "text" else f" p>={threshold}")
        out.append(Policy(name, semantic, 15, judge_with(signals, threshold), signals == "audio"))
    return out


def score(records: list[Record], policy: Policy) -> dict[str, Any]:
    cut, delays, paused = 0, [], 0
    for record in records:
        ended = replay(record, policy)
        speech_end = record.sample.speech_end * 1000
        paused += record.sample.paused
        if ended is not None and ended < speech_end:
            cut += 1
        elif ended is not None:
            delays.append(ended - speech_end)
    return {
        "policy": policy.name,
        "false_cutoffs": cut,
        "utterances": len(records),
        "paused": paused,
        "false_cutoff_rate": cut / len(records),
        "median_delay_ms": statistics.median(delays) if delays else None,
        "p90_delay_ms": float(np.percentile(delays, 90)) if delays else None,
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from wyoming_bridge.app import NailaServer, ServerSettings  # noqa: PLC0415
    from wyoming_bridge.audio_socket import AudioSocketSettings  # noqa: PLC0415

    print("building the bench set (Piper + espeak-ng) ...", flush=True)
    samples = build_set(limit=args.limit)
    settings = ServerSettings(wyoming_uri=None, audio_socket=AudioSocketSettings("127.0.0.1", 0))
    if args.speculation_pause is not None:
        speculation = dataclasses.replace(settings.speculation, pause_s=args.speculation_pause)
        settings = dataclasses.replace(settings, speculation=speculation)
    server = NailaServer(settings)
    await server.start()
    try:
        print(f"live pass over {len(samples)} utterances ...", flush=True)
        records = await record_all(samples, server.port, args.record_seconds)
    finally:
        await server.stop()
    results = [score(records, p) for p in policies(args.min_silence, args.max_silence, args.wait)]
    base = results[0]["median_delay_ms"] or 1.0
    print(f"\n{len(records)} utterances ({results[0]['paused']} paused mid-sentence)")
    print(f"{'policy':30} {'false cut-offs':>16} {'median delay':>13} {'p90':>8} {'vs 300 ms':>9}")
    for r in results:
        median = r["median_delay_ms"]
        print(
            f"{r['policy']:30} {r['false_cutoffs']:>4}/{r['utterances']} ({100 * r['false_cutoff_rate']:4.1f} %)"
            f" {median if median is None else round(median):>10} ms {round(r['p90_delay_ms'] or 0):>5} ms"
            f" {(median or 0) / base:>9.2f}"
        )
    if args.json:
        dump = [
            {
                "name": rec.sample.name,
                "speech_end": rec.sample.speech_end,
                "paused": rec.sample.paused,
                "speech": rec.speech,
                "verdicts": [{"at_ms": at, **json.loads(v.to_json())} for at, v in rec.verdicts],
            }
            for rec in records
        ]
        await asyncio.to_thread(
            Path(args.json).write_text, json.dumps({"results": results, "records": dump})
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.end_of_turn", description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="sentences to use (x2 voices)")
    parser.add_argument("--record-seconds", type=float, default=2.2, help="silence recorded")
    parser.add_argument("--min-silence", type=float, default=EndOfTurnSettings().min_silence_s)
    parser.add_argument("--max-silence", type=float, default=EndOfTurnSettings().max_silence_s)
    parser.add_argument("--wait", type=float, default=EndOfTurnSettings().verdict_wait_s)
    parser.add_argument("--json", help="write results and the recorded timelines here")
    parser.add_argument(
        "--speculation-pause",
        type=float,
        help="the server's SPECULATION_PAUSE for the live pass (default: the server's)",
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
