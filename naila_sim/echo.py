"""A device without echo cancellation: its microphone hears its own speaker, delayed.

Every frame the device receives is "played" back to back on a speaker clock; the
microphone adds what it played `delay_s` ago, `gain_db` down, plus room noise. Use it to
test that a reply's own echo never interrupts it (naila_gateway/echo.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

RATE = 48000
FRAME = 960


@dataclass(frozen=True, slots=True)
class RoomEcho:
    delay_s: float = 0.08
    """Speaker-to-microphone delay (device output buffer + the room)."""
    gain_db: float = -10.0
    """Echo level relative to what was played."""
    noise_dbfs: float = -60.0
    """Room noise RMS (white), relative to full scale."""
    seed: int = 0


class EchoPath:
    """Speaker -> room -> microphone for one simulated device."""

    def __init__(self, room: RoomEcho) -> None:
        self.room = room
        """Replace it to change the room between replies."""
        self._played: deque[tuple[float, np.ndarray]] = deque()
        self._speaker_free_at = 0.0
        self._pending = np.zeros(0, dtype=np.float64)
        self._rng = np.random.default_rng(room.seed)

    def heard(self, samples: np.ndarray, at: float) -> None:
        """The device received (and its speaker plays) these 48 kHz samples at time `at`."""
        start = max(at, self._speaker_free_at)
        self._speaker_free_at = start + samples.size / RATE
        self._played.append((start, samples.astype(np.float64)))

    def take(self, now: float) -> np.ndarray:
        """The echo and noise in the microphone frame captured up to `now` (float samples)."""
        while self._played and self._played[0][0] + self.room.delay_s <= now:
            self._pending = np.concatenate((self._pending, self._played.popleft()[1]))
        if self._pending.size > 3 * FRAME:  # the speaker clock ran ahead: drop the oldest
            self._pending = self._pending[-2 * FRAME :]
        echo = np.zeros(FRAME)
        used = min(FRAME, self._pending.size)
        echo[:used] = self._pending[:used] * 10 ** (self.room.gain_db / 20)
        self._pending = self._pending[used:]
        noise_rms = 32768.0 * 10 ** (self.room.noise_dbfs / 20)
        return echo + self._rng.normal(0.0, noise_rms, FRAME)
