"""End of turn: false cut-offs and end-of-turn delay of fixed hang-overs and semantic ones.

One live pass records, for every bench utterance (bench/turn_set.py), what the gateway's
VAD said per 20 ms frame and every TURN verdict the real AI server sent (with the time it
arrived): the server runs its default speculation, text rules and Smart Turn v3.2; the
gateway is a real VoiceSession on a real-time frame clock whose turn only ends after
`--record-seconds` of silence, so every pause is seen. Each policy is then replayed on those
records with the gateway's own UtteranceDetector and TurnGate: fixed 300 ms (NAILA's old
default), fixed 700 ms (Home Assistant's), and semantic ones built from each signal.

`--live smart_turn` (the default): the gateway runs Smart Turn itself at each pause
(`naila_gateway/turn_audio.py`, after `--probe` of silence) and asks the server for its text
rules only; every probability is recorded with its arrival, and the `smart_turn` policies
replay them. `--live semantic`: the server judges text and audio (its default signals).

    python -m bench.end_of_turn [--live smart_turn|semantic] [--limit N] [--json FILE]

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
from naila_gateway.turn_audio import SmartTurnJudge
from naila_gateway.utterance import UtteranceDetector, UtteranceEvent
from naila_gateway.vad import EnergyVad
from naila_gateway.voice import VoiceSession
from naila_protocol.framing import Frame, FrameKind, TurnVerdict
from naila_protocol.vocab import ListeningMode

FRAME_MS = FRAME_SECONDS * 1000
Judge = Callable[[TurnVerdict], TurnVerdict]
GATEWAY_AUDIO = "gateway_audio"
"""Reason of a recorded gateway Smart Turn probability (not a TURN frame)."""


@dataclass(slots=True)
class Record:
    """What one live pass saw for one utterance."""

    sample: TurnSample
    speech: list[bool] = field(default_factory=list)
    verdicts: list[tuple[float, TurnVerdict]] = field(default_factory=list)
    """(ms after the first frame was fed, verdict), for this utterance's request; audio_ms
    counted from the sample's first frame (as the replay counts), not the live utterance's."""
    offset_ms: int | None = None
    """Pre-roll the live utterance started with (the previous sample's silence)."""

    def align(self) -> None:
        """Verdict positions from the live utterance's timeline to the replay's (whose
        utterance starts with the silent frames before the first speech, up to 15)."""
        lead = next((i for i, speech in enumerate(self.speech) if speech), 0)
        offset = (self.offset_ms or 0) - min(lead, 15) * round(FRAME_MS)
        self.verdicts = [
            (at, dataclasses.replace(v, audio_ms=v.audio_ms - offset)) for at, v in self.verdicts
        ]


class RecordingGate(TurnGate):
    """The session's TurnGate, recording the gateway's Smart Turn probabilities."""

    def __init__(self, session: RecordingSession, gate: TurnGate) -> None:
        super().__init__(gate.settings, gate.fixed_frames)
        self._session = session

    def on_probability(self, speech_end_ms: int, probability: float | None) -> None:
        session = self._session
        if session.record is not None:
            arrived = (time.perf_counter() - session.started_at) * 1000
            verdict = TurnVerdict(None, speech_end_ms, GATEWAY_AUDIO, probability)
            session.record.verdicts.append((arrived, verdict))
        super().on_probability(speech_end_ms, probability)


class RecordingSession(VoiceSession):
    """A VoiceSession that also keeps every TURN verdict and Smart Turn answer, and when."""

    record: Record | None = None
    started_at = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turn = self.audio_turn.gate = RecordingGate(self, self.turn)

    def _begin_utterance(self) -> None:
        super()._begin_utterance()
        if self.record is not None and self.record.offset_ms is None:
            self.record.offset_ms = round((len(self.detector.frames) - 1) * FRAME_MS)

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


async def record_all(
    samples: list[TurnSample], port: int, record_seconds: float, mode: EndOfTurnMode, probe: float
) -> list[Record]:
    """The live pass: real-time frames into a RecordingSession talking to the real server."""
    client = ServerClient([("127.0.0.1", port)])
    client.start()
    await asyncio.wait_for(client.wait_connected(), 10)
    live = EndOfTurnSettings(mode, record_seconds, record_seconds, record_seconds, probe_s=probe)
    config = GatewayConfig(
        end_of_turn=live, listening=ListeningSettings(listening_mode=ListeningMode.ALWAYS)
    )
    judge = None
    if mode is EndOfTurnMode.SMART_TURN:
        judge = await asyncio.to_thread(SmartTurnJudge.load, live)
    session = RecordingSession(
        "bench-turn",
        config,
        server=client,
        publish=lambda *args, **kwargs: None,
        metrics=GatewayMetrics(),
        logger=logging.getLogger("bench.session"),
        smart_turn=judge,
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
            record.align()
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
        if judge is not None:
            judge.close()
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
    text: bool = True
    """smart_turn: the server's text verdicts count too (else the gateway's Smart Turn alone)."""


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
            verdict = pending.pop(0)[1]
            if verdict.reason == GATEWAY_AUDIO:
                gate.on_probability(verdict.audio_ms, verdict.probability)
            else:
                gate.on_verdict(verdict)
        detector.silence_frames = gate.required_frames()
        event = detector.feed(frame, speech)
        gate.observe(speech, len(detector.frames))
        if event is UtteranceEvent.STARTED:
            gate.reset()
        elif event is UtteranceEvent.ENDED:
            return (index + 1) * FRAME_MS
    return None


def _arrivals(record: Record, policy: Policy) -> list[tuple[float, TurnVerdict]]:
    if policy.settings.mode is EndOfTurnMode.SMART_TURN:  # as recorded, in arrival order
        return [(at, v) for at, v in record.verdicts if policy.text or v.reason == GATEWAY_AUDIO]
    if policy.judge is None:
        return []
    out = []
    for at, verdict in record.verdicts:
        if verdict.reason == GATEWAY_AUDIO:
            continue
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


def smart_turn_policy(
    threshold: float, min_silence: float, max_silence: float, wait: float, *, text: bool = True
) -> Policy:
    settings = EndOfTurnSettings(
        EndOfTurnMode.SMART_TURN,
        min_silence_s=min_silence,
        max_silence_s=max_silence,
        verdict_wait_s=wait,
        threshold=threshold,
    )
    rule = "smart_turn" if text else "smart_turn-alone"
    name = f"{rule} p>={threshold:g} min {min_silence * 1e3:.0f} wait {wait * 1e3:.0f}"
    return Policy(name, settings, 15, text=text)


def policies(min_silence: float, max_silence: float, wait: float, live: str) -> list[Policy]:
    semantic = EndOfTurnSettings(
        EndOfTurnMode.SEMANTIC,
        min_silence_s=min_silence,
        max_silence_s=max_silence,
        verdict_wait_s=wait,
    )
    fixed = EndOfTurnSettings()
    out = [Policy("fixed 300 ms", fixed, 15), Policy("HA fixed 700 ms", fixed, 35)]
    if live == EndOfTurnMode.SMART_TURN:
        for threshold, text in ((0.5, True), (0.5, False), (0.3, True), (0.7, True)):
            out.append(smart_turn_policy(threshold, min_silence, max_silence, wait, text=text))
        out.append(Policy("semantic text (server)", semantic, 15, judge_with("text", 0.5)))
        return out
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


def verdict_latency(records: list[Record]) -> str:
    """When the last pause's verdicts arrived (ms after the last spoken sample), per source."""
    parts = []
    for label, gateway in (("gateway Smart Turn", True), ("server TURN", False)):
        late = []
        for record in records:
            end = record.sample.speech_end * 1000
            spoken = [i for i, speech in enumerate(record.speech) if speech]
            last_pause = (spoken[-1] + 1) * FRAME_MS if spoken else 0.0  # the VAD's speech end
            after = [
                at - end
                for at, v in record.verdicts
                if (v.reason == GATEWAY_AUDIO) == gateway and v.audio_ms >= last_pause
            ]
            if after:
                late.append(min(after))
        if late:
            parts.append(
                f"{label} after the last spoken sample: median {np.median(late):.0f} ms, "
                f"min {min(late):.0f}, p90 {np.percentile(late, 90):.0f} ({len(late)}/{len(records)})"
            )
    return "; ".join(parts) or "no verdicts after the last spoken sample"


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
        records = await record_all(
            samples, server.port, args.record_seconds, EndOfTurnMode(args.live), args.probe
        )
    finally:
        await server.stop()
    chosen = policies(args.min_silence, args.max_silence, args.wait, args.live)
    results = [score(records, p) for p in chosen]
    base = results[0]["median_delay_ms"] or 1.0
    print(f"\n{len(records)} utterances ({results[0]['paused']} paused mid-sentence)")
    print(f"live pass: {args.live}, probe {args.probe * 1000:.0f} ms; {verdict_latency(records)}")
    print(f"{'policy':38} {'false cut-offs':>16} {'median delay':>13} {'p90':>8} {'vs 300 ms':>9}")
    for r in results:
        median = r["median_delay_ms"]
        print(
            f"{r['policy']:38} {r['false_cutoffs']:>4}/{r['utterances']} ({100 * r['false_cutoff_rate']:4.1f} %)"
            f" {median if median is None else round(median):>10} ms {round(r['p90_delay_ms'] or 0):>5} ms"
            f" {(median or 0) / base:>9.2f}"
        )
    if args.json:
        dump = [
            {
                "name": rec.sample.name,
                "speech_end": rec.sample.speech_end,
                "paused": rec.sample.paused,
                "offset_ms": rec.offset_ms,
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
        "--live",
        choices=[EndOfTurnMode.SMART_TURN.value, EndOfTurnMode.SEMANTIC.value],
        default=EndOfTurnMode.SMART_TURN.value,
        help="who judges the audio in the live pass: the gateway (smart_turn) or the server",
    )
    parser.add_argument("--probe", type=float, default=EndOfTurnSettings().probe_s)
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
