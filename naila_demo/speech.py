"""What the simulated device says: a WAV file or espeak-ng text, trimmed to the speech itself."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

from naila_sim.audio import RATE, load_wav, speak_text

TRIM_RMS = 200.0
"""RMS of a 20 ms frame below which leading/trailing audio counts as silence."""
FRAME = RATE // 50


class SpeechError(Exception):
    """The utterance cannot be produced (unreadable WAV, espeak-ng missing or failing, silence)."""


def trim_silence(samples: np.ndarray, threshold: float = TRIM_RMS) -> np.ndarray:
    """Drop silent 20 ms frames at both ends, so 'end of speech' is the last spoken frame."""
    usable = samples[: samples.size - samples.size % FRAME].astype(np.float64)
    if usable.size == 0:
        return samples[:0]
    rms = np.sqrt(np.mean(usable.reshape(-1, FRAME) ** 2, axis=1))
    loud = np.flatnonzero(rms > threshold)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] * FRAME : (loud[-1] + 1) * FRAME]


def load_utterance(wav: Path | None, say: str | None) -> np.ndarray:
    """48 kHz mono int16 speech from `wav`, else from `say` via espeak-ng."""
    try:
        if wav is not None:
            samples = load_wav(wav)
        elif say is not None and say.strip():
            samples = speak_text(say)
        else:
            raise SpeechError("nothing to say: give --wav FILE or --say TEXT")
    except (OSError, EOFError, wave.Error, ValueError) as err:
        raise SpeechError(f"cannot read {wav}: {err}") from err
    except (RuntimeError, subprocess.CalledProcessError) as err:
        raise SpeechError(f"espeak-ng failed: {err}") from err
    speech = trim_silence(samples)
    if speech.size == 0:
        raise SpeechError("the utterance is silent")
    return speech


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    """int16 mono samples as a WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, dtype="<i2").tobytes())
