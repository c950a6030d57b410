"""Test utterances spoken by espeak-ng, as int16 mono PCM at the rates the benches need."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from naila_demo.speech import trim_silence

DEFAULT_UTTERANCES = (
    "what time is it",
    "turn on the kitchen lights",
    "what's the weather like tomorrow",
    "set a timer for ten minutes",
    "tell me a joke about cats",
    "is the front door locked",
)
ESPEAK_VOICE = "en-us"
ESPEAK_WORDS_PER_MINUTE = 160


@dataclass(frozen=True, slots=True)
class Utterance:
    """One spoken request: its text and the same speech at 16 kHz and 48 kHz."""

    text: str
    pcm16k: bytes
    pcm48k: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm16k) / 2 / 16000


def silence(seconds: float, rate: int) -> bytes:
    """int16 zeros lasting `seconds` at `rate`."""
    return bytes(2 * round(seconds * rate))


def espeak_pcm(text: str, voice: str = ESPEAK_VOICE) -> tuple[np.ndarray, int]:
    """Speak `text` with espeak-ng; return float32 mono samples and their rate."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (Debian package espeak-ng)")
    with tempfile.TemporaryDirectory(prefix="naila-speech-") as tmp:
        wav_path = Path(tmp) / "speech.wav"
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                voice,
                "-s",
                str(ESPEAK_WORDS_PER_MINUTE),
                "-w",
                str(wav_path),
                text,
            ],
            check=True,
            capture_output=True,
        )
        with wave.open(str(wav_path), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise RuntimeError("espeak-ng did not write 16-bit mono audio")
            rate = wav.getframerate()
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return samples.astype(np.float32) / 32768.0, rate


def resample_pcm(samples: np.ndarray, rate_in: int, rate_out: int) -> bytes:
    """Resample float32 samples with soxr and return int16 little-endian PCM."""
    out = (
        soxr.resample(samples, rate_in, rate_out, quality="HQ") if rate_in != rate_out else samples
    )
    return (np.clip(out, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def make_utterance(text: str) -> Utterance:
    """Speak `text` once and derive the 16 kHz (HA) and 48 kHz (gateway) versions.

    espeak-ng's own leading and trailing silence is cut (as the simulated device does), so
    the end of the audio is the last spoken frame: otherwise that silence would count as
    speech, and NAILA's speculation would get a head start the hang-over alone does not give.
    """
    samples, rate = espeak_pcm(text)
    pcm48k = np.frombuffer(resample_pcm(samples, rate, 48000), dtype="<i2")
    speech = trim_silence(pcm48k)
    return Utterance(
        text, resample_pcm(speech.astype(np.float32) / 32768.0, 48000, 16000), speech.tobytes()
    )


def make_utterances(texts: tuple[str, ...] | list[str] = DEFAULT_UTTERANCES) -> list[Utterance]:
    return [make_utterance(text) for text in texts]
