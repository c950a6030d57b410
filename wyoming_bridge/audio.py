"""PCM helpers: int16 <-> float, resampling with soxr, loudness."""

from __future__ import annotations

import numpy as np
import soxr

STT_RATE = 16000
INT16_SCALE = 32768.0


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    """int16 mono little-endian bytes -> float32 in [-1, 1)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / INT16_SCALE


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """float32 in [-1, 1] -> int16 mono little-endian bytes (clipped)."""
    clipped = np.clip(samples, -1.0, 32767.0 / INT16_SCALE)
    return (clipped * INT16_SCALE).astype("<i2").tobytes()


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample float32 mono audio with soxr (identity when the rates match)."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.float32)


def pcm16_to_stt(pcm: bytes, rate: int) -> np.ndarray:
    """Utterance PCM at any supported rate -> float32 at 16 kHz for Whisper."""
    return resample(pcm16_to_float(pcm), rate, STT_RATE)


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS of float audio (-120 for silence or no samples)."""
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * float(np.log10(rms)) if rms > 1e-6 else -120.0


def peak_window_dbfs(samples: np.ndarray, rate: int, window_s: float = 0.05) -> float:
    """Loudest RMS level over windows of `window_s` (how loud the speech got)."""
    size = max(1, int(rate * window_s))
    if samples.size < size:
        return rms_dbfs(samples)
    usable = samples[: samples.size - samples.size % size].reshape(-1, size)
    power = np.mean(np.square(usable, dtype=np.float64), axis=1)
    peak = float(np.sqrt(power.max()))
    return 20.0 * float(np.log10(peak)) if peak > 1e-6 else -120.0
