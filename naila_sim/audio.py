"""Loading speech for the simulated device: WAV files, raw PCM, or espeak-ng text."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import av
import numpy as np

RATE = 48000


def resample(samples: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """int16 mono at `rate` -> int16 mono at `target`."""
    if rate == target or samples.size == 0:
        return samples.astype(np.int16)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(
        samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = rate
    parts = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def load_wav(path: str | Path) -> np.ndarray:
    """A 16-bit PCM WAV (any rate, mono or stereo) as 48 kHz mono int16."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        channels, rate = wav.getnchannels(), wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return resample(data, rate)


def load_pcm(path: str | Path, rate: int) -> np.ndarray:
    """Raw int16 mono little-endian PCM at `rate` as 48 kHz."""
    return resample(np.fromfile(str(path), dtype="<i2"), rate)


def speak_text(text: str, *, voice: str = "en-us", words_per_minute: int = 160) -> np.ndarray:
    """Synthesize `text` with espeak-ng (Debian package) as 48 kHz mono int16."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            [binary, "-v", voice, "-s", str(words_per_minute), "-w", str(out), text],
            check=True,
            capture_output=True,
        )
        return load_wav(out)


def tone(seconds: float, frequency: float = 440.0, amplitude: int = 8000) -> np.ndarray:
    """A sine tone at 48 kHz (loud enough for the energy VAD)."""
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * frequency * t) * amplitude).astype(np.int16)
