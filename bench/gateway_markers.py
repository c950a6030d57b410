"""Audio markers for latency benches: tone bursts with a known onset, found again on the far side.

Every block of audio is tagged with the monotonic time of its first sample (the moment the
block is handed to the encoder, or leaves the decoder); an onset found at sample k of a block
therefore happened at `t_first + k / rate`. CLOCK_MONOTONIC is system-wide on Linux, so times
taken in different processes on one machine compare directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TONE_HZ = 1000.0
TONE_AMPLITUDE = 0.5
ONSET_RMS = 0.06 * 32768
"""RMS over one window above which a window counts as 'tone' (silence decodes to ~0)."""
QUIET_RMS = 0.02 * 32768
REARM_QUIET_S = 0.08
"""A new onset is accepted only after this much quiet (no double counts inside one burst)."""


def tone(
    duration_s: float, rate: int, *, hz: float = TONE_HZ, amplitude: float = TONE_AMPLITUDE
) -> np.ndarray:
    """int16 mono sine burst, starting at phase 0 (its onset is its first sample)."""
    n = round(duration_s * rate)
    t = np.arange(n, dtype=np.float64) / rate
    return (amplitude * 32767 * np.sin(2 * math.pi * hz * t)).astype(np.int16)


def silence(duration_s: float, rate: int) -> np.ndarray:
    return np.zeros(round(duration_s * rate), dtype=np.int16)


@dataclass
class OnsetDetector:
    """Finds tone onsets in a stream of int16 mono blocks; `onsets` holds their times."""

    window_ms: float = 1.0
    onsets: list[float] = field(default_factory=list)
    _armed: bool = True
    _quiet_since: float | None = None

    def feed(self, samples: np.ndarray, rate: int, t_first: float) -> list[float]:
        """Scan one block whose first sample is at monotonic time `t_first`; return new onsets."""
        found: list[float] = []
        win = max(1, round(rate * self.window_ms / 1000))
        usable = samples.size - samples.size % win
        if usable == 0:
            return found
        blocks = samples[:usable].astype(np.float32).reshape(-1, win)
        rms = np.sqrt(np.mean(blocks * blocks, axis=1))
        for i, level in enumerate(rms):
            t = t_first + i * win / rate
            if level >= ONSET_RMS:
                self._quiet_since = None
                if self._armed:
                    self._armed = False
                    found.append(t)
            elif level < QUIET_RMS and not self._armed:
                if self._quiet_since is None:
                    self._quiet_since = t
                elif t - self._quiet_since >= REARM_QUIET_S:
                    self._armed = True
        self.onsets.extend(found)
        return found


def match_latencies(sent: list[float], received: list[float], max_s: float = 0.5) -> list[float]:
    """Pair each received onset with the latest sent onset before it; latencies in seconds."""
    out: list[float] = []
    ordered = sorted(sent)
    j = 0
    for t_rx in sorted(received):
        while j + 1 < len(ordered) and ordered[j + 1] <= t_rx:
            j += 1
        if ordered and ordered[j] <= t_rx and t_rx - ordered[j] <= max_s:
            out.append(t_rx - ordered[j])
    return out


def percentile_ms(values: list[float], q: float) -> float:
    """q-th percentile of seconds, in milliseconds (nan when empty)."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values) * 1000.0, q))
