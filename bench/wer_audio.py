"""Speech for the WER bench (espeak-ng voices, Piper, room noise), Opus round trip, WER."""

from __future__ import annotations

import re
from dataclasses import dataclass

import av
import numpy as np

from naila_demo.speech import trim_silence
from naila_gateway.pcm import WEBRTC_RATE, Resampler
from naila_sim.audio import load_wav, speak_text

TEXTS = (
    "turn on the kitchen lights",
    "what's the weather like tomorrow",
    "set a timer for ten minutes",
    "play some relaxing music in the bedroom",
    "is the front door locked",
    "dim the living room lights",
    "what should I cook for dinner tonight",
    "remind me to call my sister",
)
ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp")
LEAD_S = 0.6
"""Silence (or noise) the device sends before the speech."""
TAIL_S = 0.8
SNR_DB = 20.0
FRAME = 960


@dataclass(frozen=True, slots=True)
class SpokenText:
    text: str
    voice: str
    speech48: np.ndarray
    """The speech itself (trimmed), int16 at 48 kHz."""
    stream48: np.ndarray
    """What the microphone hears: lead, speech, tail (with noise when `noisy`)."""
    lead_frames: int


def _with_room(speech: np.ndarray, noisy: bool, seed: int) -> np.ndarray:
    lead, tail = int(LEAD_S * WEBRTC_RATE), int(TAIL_S * WEBRTC_RATE)
    stream = np.concatenate((np.zeros(lead), speech.astype(np.float64), np.zeros(tail)))
    if noisy:
        rng = np.random.default_rng(seed)
        white = rng.normal(size=stream.size)
        brown = np.cumsum(white)
        brown -= np.convolve(brown, np.ones(480) / 480, mode="same")  # no DC drift
        noise = 0.5 * white / white.std() + brown / brown.std()
        level = np.sqrt(np.mean(speech.astype(np.float64) ** 2)) / 10 ** (SNR_DB / 20)
        stream += noise / noise.std() * level
    return np.clip(stream, -32768, 32767).astype(np.int16)


def spoken_texts(piper: bool = True) -> list[SpokenText]:
    """espeak-ng: every text in two of the four voices, half of them with room noise;
    Piper joe: every text once (clean)."""
    items: list[SpokenText] = []
    for i, text in enumerate(TEXTS):
        for j, voice in enumerate((ESPEAK_VOICES[i % 4], ESPEAK_VOICES[(i + 1) % 4])):
            speech = trim_silence(speak_text(text, voice=voice))
            noisy = j == 1
            name = f"espeak {voice}{' +noise' if noisy else ''}"
            stream = _with_room(speech, noisy, i)
            items.append(SpokenText(text, name, speech, stream, int(LEAD_S * 50)))
    if piper:
        from naila_sim.piper import piper_wavs  # noqa: PLC0415

        for text, path in zip(TEXTS, piper_wavs([(t, 1.0) for t in TEXTS]), strict=True):
            speech = trim_silence(load_wav(path))
            items.append(SpokenText(text, "piper joe", speech, _with_room(speech, False, 0), 30))
    return items


def to_16k(samples48: np.ndarray) -> np.ndarray:
    """int16 48 kHz -> float32 16 kHz through the gateway's resampler (as the server gets it)."""
    resampler = Resampler(WEBRTC_RATE, 16000)
    out = np.concatenate((resampler.process(samples48.astype(np.int16)), resampler.flush()))
    return out.astype(np.float32) / 32768.0


def opus_round_trip(samples48: np.ndarray, bitrate: int = 96000) -> np.ndarray:
    """Encode 20 ms frames like the simulated device's aiortc encoder (stereo, 96 kbps),
    decode like the gateway, downmix to mono; same length as the input."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.bit_rate = bitrate
    encoder.sample_rate = WEBRTC_RATE
    encoder.layout = "stereo"
    encoder.format = "s16"
    decoder = av.CodecContext.create("opus", "r")
    decoder.sample_rate = WEBRTC_RATE
    decoder.layout = "stereo"
    pad = (-samples48.size) % FRAME
    padded = np.concatenate((samples48.astype(np.int16), np.zeros(pad, dtype=np.int16)))
    out: list[np.ndarray] = []
    for index, chunk in enumerate(padded.reshape(-1, FRAME)):
        frame = av.AudioFrame.from_ndarray(
            np.repeat(chunk, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = WEBRTC_RATE
        frame.pts = index * FRAME
        for packet in encoder.encode(frame):
            for decoded in decoder.decode(packet):
                out.append(_mono(decoded))
    mono = (
        np.clip(np.concatenate(out), -32768, 32767).astype(np.int16)
        if out
        else np.zeros(0, dtype=np.int16)
    )
    lag = _encoder_delay(padded, mono)  # libopus's look-ahead delays the decoded audio
    tail = np.zeros(samples48.size, dtype=np.int16)
    return np.concatenate((mono[lag:], tail))[: samples48.size]


def _mono(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame (planar or packed, float or int16) as int16-scaled mono."""
    data = frame.to_ndarray().astype(np.float64)
    channels = frame.layout.nb_channels
    mono = data.mean(axis=0) if frame.format.is_planar else data.reshape(-1, channels).mean(1)
    return mono * 32767.0 if frame.format.name.startswith("flt") else mono


def _encoder_delay(reference: np.ndarray, decoded: np.ndarray) -> int:
    """Samples the decoded audio lags behind the reference (cross-correlation, <= 40 ms)."""
    size = min(reference.size, decoded.size)
    ref, dec = reference[:size].astype(np.float64), decoded[:size].astype(np.float64)
    best, lag = -np.inf, 0
    for shift in range(0, 1920, 24):
        score = float(np.dot(ref[: size - shift], dec[shift:size]))
        if score > best:
            best, lag = score, shift
    return lag


_WORD = re.compile(r"[a-z0-9']+")
_NUMBERS = {"10": "ten", "1": "one", "2": "two", "5": "five", "15": "fifteen", "20": "twenty"}


def words(text: str) -> list[str]:
    found = _WORD.findall(text.lower().replace("what's", "what is"))
    return [_NUMBERS.get(w, w) for w in found]


def word_errors(reference: str, hypothesis: str) -> int:
    """Word-level edit distance (substitutions + insertions + deletions)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def wer(references: list[str], hypotheses: list[str]) -> float:
    total = sum(len(words(r)) for r in references)
    errors = sum(word_errors(r, h) for r, h in zip(references, hypotheses, strict=True))
    return errors / total if total else 0.0
