"""What the simulated device says: a WAV file, or text spoken by espeak-ng."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

ESPEAK = "espeak-ng"


class SpeechError(Exception):
    """The utterance cannot be produced (bad WAV, espeak-ng missing or failing)."""


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV as int16 mono samples and its sample rate (channels are averaged)."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, wave.Error, EOFError) as err:
        raise SpeechError(f"cannot read WAV {path}: {err}") from err
    if width != 2:
        raise SpeechError(f"{path}: need 16-bit PCM, got {8 * width}-bit")
    samples = np.frombuffer(raw, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if samples.size == 0:
        raise SpeechError(f"{path} holds no audio")
    return samples, rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write int16 mono samples as a WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def speak_to_wav(
    text: str, path: Path, *, voice: str = "en-us", words_per_minute: int = 160
) -> Path:
    """Synthesize `text` with espeak-ng into `path` (22 050 Hz mono WAV)."""
    if not text.strip():
        raise SpeechError("--say needs some text")
    if shutil.which(ESPEAK) is None:
        raise SpeechError(f"{ESPEAK} is not installed (apt install espeak-ng)")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [ESPEAK, "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0 or not path.exists():
        raise SpeechError(f"{ESPEAK} failed: {result.stderr.strip()}")
    return path
