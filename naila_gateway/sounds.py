"""Sounds the gateway plays on a device before an announcement (48 kHz mono int16, whole frames)."""

from __future__ import annotations

from functools import cache

import numpy as np

from naila_gateway.pcm import FRAME_SAMPLES, WEBRTC_RATE
from naila_protocol.vocab import Sound

_AMPLITUDE = 7000


def _note(frequency: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * WEBRTC_RATE)) / WEBRTC_RATE
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms ramps: no clicks
    return np.sin(2 * np.pi * frequency * t) * fade


def _gap(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * WEBRTC_RATE))


_NOTES = {
    Sound.CHIME: [(660.0, 0.12), (0.0, 0.03), (990.0, 0.22), (0.0, 0.15)],
    Sound.TIMER: [(880.0, 0.15), (0.0, 0.1)] * 3 + [(0.0, 0.3)] + [(880.0, 0.15), (0.0, 0.1)] * 3,
}


@cache
def sound_pcm(sound: Sound) -> np.ndarray:
    """The samples of one sound, padded with silence to whole 20 ms frames."""
    parts = [_note(f, s) if f else _gap(s) for f, s in _NOTES[sound]]
    samples = (np.concatenate(parts) * _AMPLITUDE).astype(np.int16)
    pad = (-samples.size) % FRAME_SAMPLES
    samples = np.concatenate((samples, np.zeros(pad, dtype=np.int16)))
    samples.flags.writeable = False
    return samples
