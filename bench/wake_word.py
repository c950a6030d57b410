"""Wake word: detection rate, false accepts per hour, and CPU per stream with it on vs off.

Everything runs through the gateway's own code (`naila_gateway.listening.Listener`: soxr to
16 kHz, microWakeWord in the default executor, 60 ms batches), fed 20 ms frames at 48 kHz:
- detection: "Okay Nabu, <command>" spoken by the packaged Piper voice (three speaking rates)
  and by espeak-ng (three voices), each clean and with white noise at 20 dB SNR;
- false accepts: one continuous stream of at least `--false-minutes` of speech without the wake
  word (commands, questions and the assistant's own replies, Piper and espeak-ng, half of it
  with noise), counted per hour;
- CPU: process CPU time (every thread) per second of audio for one stream's input path with
  the wake word on, against the same path off (`always`: the listener returns at once) and
  against the energy VAD every stream runs anyway, measured in the same run.
Speech is synthesized once and cached under the NAILA cache dir (`$NAILA_CACHE/speech`).

    .venv/bin/python -m bench.wake_word                      # ≈ 10 min the first time
    .venv/bin/python -m bench.wake_word --false-minutes 5    # quicker, fewer false-accept minutes
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

from bench.wake_corpus import COMMANDS, non_wake_texts
from naila_gateway.listening import Listener, ListeningChoice, ListeningSettings
from naila_gateway.listening.wake_word import TUNINGS, Downsampler, load_model
from naila_gateway.pcm import FRAME_SAMPLES
from naila_gateway.vad import EnergyVad
from naila_protocol.vocab import ListeningMode, WakeWord
from naila_sim.audio import RATE, load_wav
from naila_sim.piper import cache_dir, piper_wavs, wake_phrase

_LOGGER = logging.getLogger("bench.wake_word")
PIPER_RATES = (0.85, 1.0, 1.2)
"""Piper length scales (faster, normal, slower speech)."""
ESPEAK_VOICES = (("en-us", 160), ("en-gb-x-rp", 150), ("en-us+f3", 170))
GOAL_DETECTION = 0.95
GOAL_FALSE_PER_HOUR = 1.0
GOAL_CPU_ADDED = 0.01
SNR_DB = 20.0
CUTOFFS = (0.5, 0.45, 0.42, 0.38, 0.35)
"""Cutoffs of the sensitivity sweep on the gateway's window mean (the gateway uses 0.42)."""


@dataclass(frozen=True, slots=True)
class Clip:
    label: str
    samples: np.ndarray
    """48 kHz mono int16."""


def espeak_wav(text: str, voice: str, speed: int) -> Path:
    """A cached espeak-ng WAV of `text`."""
    import hashlib  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    key = hashlib.sha256(f"espeak|{voice}|{speed}|{text}".encode()).hexdigest()[:20]
    out = cache_dir() / f"espeak-{key}.wav"
    if not out.exists():
        partial = out.with_suffix(".partial.wav")
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(partial), text],
            check=True,
            capture_output=True,
        )
        partial.replace(out)
    return out


def with_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise at `snr_db` below the speech's RMS (measured over its voiced frames)."""
    frames = samples[: samples.size - samples.size % FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    voiced = rms[rms > 100.0]
    level = float(np.sqrt(np.mean(voiced**2))) if voiced.size else 1000.0
    noise = rng.standard_normal(samples.size) * level / (10 ** (snr_db / 20))
    return np.clip(samples + noise, -32768, 32767).astype(np.int16)


def wake_clips(rng: np.random.Generator) -> list[Clip]:
    """'Okay Nabu, <command>' by every voice, clean and noisy."""
    texts = [wake_phrase(WakeWord.OKAY_NABU, command) for command in COMMANDS]
    piper = piper_wavs([(t, scale) for scale in PIPER_RATES for t in texts])
    clean = [
        Clip(f"piper x{scale} {text!r}", load_wav(path))
        for (scale, text), path in zip(itertools.product(PIPER_RATES, texts), piper, strict=True)
    ]
    clean += [
        Clip(f"espeak {voice} {text!r}", load_wav(espeak_wav(text, voice, speed)))
        for voice, speed in ESPEAK_VOICES
        for text in texts
    ]
    noisy = [Clip(c.label + " +noise", with_noise(c.samples, SNR_DB, rng)) for c in clean]
    return clean + noisy


def non_wake_stream(minutes: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """At least `minutes` of speech without the wake word as one stream; (samples, sentences)."""
    texts = non_wake_texts(rng)
    half = len(texts) // 2
    piper = piper_wavs([(t, PIPER_RATES[i % 3]) for i, t in enumerate(texts[:half])])
    paths = piper + [
        espeak_wav(t, *ESPEAK_VOICES[i % len(ESPEAK_VOICES)]) for i, t in enumerate(texts[half:])
    ]
    order = rng.permutation(len(paths))
    parts: list[np.ndarray] = []
    total = 0
    used = 0
    for index in order:
        clip = load_wav(paths[index])
        if used % 2:
            clip = with_noise(clip, SNR_DB, rng)
        gap = np.zeros(int(rng.uniform(0.3, 1.2) * RATE), dtype=np.int16)
        parts += [clip, gap]
        total += clip.size + gap.size
        used += 1
        if total >= minutes * 60 * RATE:
            break
    if total < minutes * 60 * RATE:
        raise SystemExit(f"the corpus holds only {total / RATE / 60:.1f} min of speech")
    return np.concatenate(parts), used


def frames_of(samples: np.ndarray) -> list[np.ndarray]:
    pad = (-samples.size) % FRAME_SAMPLES
    padded = np.concatenate((samples, np.zeros(pad, dtype=np.int16)))
    return list(padded.reshape(-1, FRAME_SAMPLES))


def new_listener(mode: ListeningMode = ListeningMode.WAKE_WORD) -> Listener:
    return Listener(ListeningChoice(mode, WakeWord.OKAY_NABU), ListeningSettings())


async def detect(clip: Clip) -> bool:
    """One fresh listener hears 0.5 s of silence, the clip and 1 s of silence."""
    listener = new_listener()
    silence = np.zeros(RATE // 2, dtype=np.int16)
    heard = False
    try:
        for frame in frames_of(np.concatenate((silence, clip.samples, silence, silence))):
            heard = await listener.hear(frame) is not None or heard
    finally:
        await listener.close()
    return heard


async def false_accepts(stream: np.ndarray) -> list[float]:
    """Seconds into the stream where the wake word was (wrongly) heard."""
    listener = new_listener()
    hits: list[float] = []
    try:
        for index, frame in enumerate(frames_of(stream)):
            if await listener.hear(frame) is not None:
                hits.append(index * FRAME_SAMPLES / RATE)
    finally:
        await listener.close()
    return hits


def probabilities(samples: np.ndarray) -> np.ndarray:
    """The model's probability averaged as the gateway does, every 30 ms (same 16 kHz path)."""
    from pymicro_wakeword import MicroWakeWordFeatures  # noqa: PLC0415

    downsampler = Downsampler()
    pcm = np.concatenate([downsampler.process(frame) for frame in frames_of(samples)])
    model = load_model(WakeWord.OKAY_NABU)
    features = MicroWakeWordFeatures()
    found = [model.process_streaming_prob(f) for f in features.process_streaming(pcm.tobytes())]
    model.close()
    return np.array([p for p in found if p is not None])


def crossings(probs: np.ndarray, cutoff: float, cooldown: int = 34) -> int:
    """Detections at `cutoff`, at most one per `cooldown` probabilities (30 ms each: ≈ 1 s)."""
    count, quiet_until = 0, -1
    for index in np.flatnonzero(probs > cutoff):
        if index >= quiet_until:
            count += 1
            quiet_until = int(index) + cooldown
    return count


def sweep(clips: list[Clip], stream: np.ndarray) -> list[str]:
    """Detection and false accepts per hour at each cutoff in CUTOFFS."""
    silence = np.zeros(RATE // 2, dtype=np.int16)
    peaks = [
        float(probabilities(np.concatenate((silence, c.samples, silence))).max()) for c in clips
    ]
    probs = probabilities(stream)
    hours = stream.size / RATE / 3600
    return [
        f"  cutoff {cutoff:.2f}: detected {sum(p > cutoff for p in peaks)}/{len(peaks)}, "
        f"false accepts {crossings(probs, cutoff) / hours:.2f}/h"
        for cutoff in CUTOFFS
    ]


async def cpu_per_audio_second(frames: list[np.ndarray], what: str) -> float:
    """Process CPU seconds (all threads) per second of audio for one stream's `what`."""
    vad = EnergyVad(500.0)
    listener = new_listener(ListeningMode.WAKE_WORD if what == "wake" else ListeningMode.ALWAYS)
    started = time.process_time()
    try:
        for frame in frames:
            if what == "vad":
                await vad.is_speech(frame)
            else:
                await listener.hear(frame)
    finally:
        spent = time.process_time() - started
        await listener.close()
    return spent / (len(frames) * FRAME_SAMPLES / RATE)


async def bench(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    random.seed(args.seed)
    started = time.monotonic()
    clips = wake_clips(rng)
    stream, sentences = non_wake_stream(args.false_minutes, rng)
    _LOGGER.warning("speech ready in %.0f s", time.monotonic() - started)

    results = [await detect(clip) for clip in clips]
    missed = [clip.label for clip, ok in zip(clips, results, strict=True) if not ok]
    rate = sum(results) / len(results)
    by_group: dict[str, list[bool]] = {}
    for clip, ok in zip(clips, results, strict=True):
        group = ("piper" if clip.label.startswith("piper") else "espeak-ng") + (
            " +20 dB noise" if clip.label.endswith("+noise") else " clean"
        )
        by_group.setdefault(group, []).append(ok)

    hits = await false_accepts(stream)
    hours = stream.size / RATE / 3600
    per_hour = len(hits) / hours

    cpu_frames = frames_of(stream[: int(args.cpu_seconds * RATE)])
    cpu = {
        what: min([await cpu_per_audio_second(cpu_frames, what) for _ in range(args.cpu_repeats)])
        for what in ("off", "vad", "wake")
    }
    added = cpu["wake"] - cpu["off"]
    sensitivity = sweep(clips, stream) if args.sweep else []

    out = [
        f"wake word bench (okay_nabu, {len(clips)} utterances, "
        f"{stream.size / RATE / 60:.1f} min / {sentences} sentences of non-wake speech)",
        f"detection: {sum(results)}/{len(results)} = {rate:.1%} "
        f"(goal >= {GOAL_DETECTION:.0%}) {'OK' if rate >= GOAL_DETECTION else 'MISSED'}",
        *[f"  {g:24s} {sum(v)}/{len(v)}" for g, v in sorted(by_group.items())],
        *[f"  missed: {label}" for label in missed],
        f"false accepts: {len(hits)} in {hours * 60:.1f} min = {per_hour:.2f}/h "
        f"(goal <= {GOAL_FALSE_PER_HOUR:g}/h) {'OK' if per_hour <= GOAL_FALSE_PER_HOUR else 'MISSED'}",
        *[f"  at {t:.1f} s" for t in hits],
        *(
            [
                f"sensitivity (cutoff on the mean of {TUNINGS[WakeWord.OKAY_NABU].window} "
                f"probabilities; the gateway uses {TUNINGS[WakeWord.OKAY_NABU].cutoff:g}):"
            ]
            if sensitivity
            else []
        ),
        *sensitivity,
        f"CPU per stream (% of a core, best of {args.cpu_repeats} over {args.cpu_seconds:g} s): "
        f"listener off {cpu['off']:.2%}, energy VAD {cpu['vad']:.2%}, wake word {cpu['wake']:.2%}",
        f"  wake word adds {added:.2%} of a core per stream = {added / max(cpu['vad'], 1e-9):.1f}x "
        f"the energy VAD (goal <= {GOAL_CPU_ADDED:.0%}) "
        f"{'OK' if added <= GOAL_CPU_ADDED else 'MISSED'}",
    ]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--false-minutes", type=float, default=30.0, help="non-wake speech, min")
    parser.add_argument("--cpu-seconds", type=float, default=120.0, help="audio per CPU run, s")
    parser.add_argument("--cpu-repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-sweep", dest="sweep", action="store_false", help="skip the cutoff sweep"
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    sys.exit(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
