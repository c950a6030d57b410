"""Whisper's log-mel spectrogram in numpy (80 bins, 25 ms Hann window, 10 ms hop, 16 kHz).

The input Smart Turn v3 expects: the waveform left-padded with zeros (or cut) to the last
`seconds`, normalised to zero mean and unit variance, then Whisper's log10 mel power clamped to 8
below its maximum and scaled as (x + 4) / 4.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    linear = 3.0 * hz / 200.0
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(hz >= 1000.0, log_part, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    linear = 200.0 * mel / 3.0
    log_part = 1000.0 * np.exp(np.log(6.4) * (mel - 15.0) / 27.0)
    return np.where(mel >= 15.0, log_part, linear)


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangular filters with Slaney area normalisation."""
    fft_freqs = np.linspace(0.0, RATE / 2, N_FFT // 2 + 1)
    mel_edges = np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(RATE / 2)), N_MELS + 2)
    hz_edges = _mel_to_hz(mel_edges)
    lower = hz_edges[:-2, None]
    centre = hz_edges[1:-1, None]
    upper = hz_edges[2:, None]
    rising = (fft_freqs[None, :] - lower) / (centre - lower)
    falling = (upper - fft_freqs[None, :]) / (upper - centre)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return filters.astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann


def fit_seconds(samples: np.ndarray, seconds: float) -> np.ndarray:
    """The last `seconds` of float audio, left-padded with zeros when shorter."""
    length = int(seconds * RATE)
    if samples.size >= length:
        return samples[-length:]
    return np.concatenate((np.zeros(length - samples.size, dtype=np.float32), samples))


def log_mel(samples: np.ndarray, seconds: float = 8.0) -> np.ndarray:
    """(N_MELS, seconds * 100) features of float32 16 kHz audio."""
    audio = fit_seconds(samples.astype(np.float32), seconds)
    audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
    padded = np.pad(audio, N_FFT // 2, mode="reflect")
    count = 1 + (padded.size - N_FFT) // HOP
    strides = (padded.strides[0] * HOP, padded.strides[0])
    frames = np.lib.stride_tricks.as_strided(padded, shape=(count, N_FFT), strides=strides)
    power = np.abs(np.fft.rfft(frames * _window(), axis=1)) ** 2
    mel = mel_filters() @ power.T.astype(np.float32)
    spec = np.log10(np.maximum(mel, 1e-10))[:, :-1]
    spec = np.maximum(spec, spec.max() - 8.0)
    return ((spec + 4.0) / 4.0).astype(np.float32)
