"""Spoken test utterances as WAV bytes (espeak-ng, the Debian package the demo uses too)."""

from __future__ import annotations

import functools
import io
import wave

from naila_sim import speak_text
from naila_sim.mic import RATE
from naila_sim.piper import piper_wavs


@functools.cache
def spoken_wav(text: str, voice: str = "en-us") -> bytes:
    """`text` spoken at 48 kHz mono, with 0.3 s of silence after it, as WAV bytes."""
    samples = speak_text(text, voice=voice)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes() + b"\0\0" * (RATE * 3 // 10))
    return out.getvalue()


def piper_wav_bytes(text: str) -> bytes:
    """`text` spoken by the packaged Piper voice (cached), as WAV bytes."""
    (path,) = piper_wavs([(text, 1.0)])
    return path.read_bytes()
