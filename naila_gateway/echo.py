"""Echo-safe barge-in: a device's microphone hearing its own reply must not interrupt it.

The gateway knows every frame it plays to a device. `EchoGuard` keeps the spectrum of the
last `max_delay_s` of that reference, tracks the playback-to-microphone delay and echo gain
by cross-correlating the microphone's envelope with it, and while the reference (or its echo
tail) is live lets a microphone frame count as speech only when its energy, band by band,
exceeds the echo predicted from the reference by `margin_db`, for `onset_frames` frames in a
row. With nothing played the VAD's decision passes through unchanged.
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from naila_gateway.pcm import FRAME_SAMPLES, FRAME_SECONDS, WEBRTC_RATE
from naila_protocol.settings import load_settings, setting

BAND_EDGES_HZ = (
    100, 200, 300, 400, 510, 630, 770, 920, 1080, 1270, 1480, 1720, 2000, 2320, 2700, 3150,
    3700, 4400, 5300, 6400, 7700,
)  # fmt: skip
"""Critical-band-like edges: the comparison is per band, so the echo's spectrum must explain
the microphone's in every band for a frame to count as echo only."""
_BIN_HZ = WEBRTC_RATE / FRAME_SAMPLES
_BANDS = [
    (round(lo / _BIN_HZ), round(hi / _BIN_HZ)) for lo, hi in itertools.pairwise(BAND_EDGES_HZ)
]
_WINDOW = np.hanning(FRAME_SAMPLES).astype(np.float32)
_LOGGER = logging.getLogger(__name__)
SILENT_ENERGY = 1e4
"""Band-summed energy below which a reference frame counts as silence (int16 units)."""


_GROUP = "Echo (barge-in during replies)"


class EchoMode(enum.StrEnum):
    OFF = "off"
    """No protection: any speech while a reply plays is a barge-in."""
    SUPPRESS = "suppress"
    """Compare the microphone with the played reference (EchoGuard)."""


@dataclass(frozen=True, slots=True)
class EchoSettings:
    """AUDIO_ECHO* settings (bench/echo_barge_in.py measured the defaults)."""

    mode: EchoMode = setting(
        EchoMode.OFF,
        env="AUDIO_ECHO",
        flag="--echo",
        group=_GROUP,
        choices=list(EchoMode),
        parse=EchoMode,
        help="off: any speech during a reply barges in; suppress: ignore the reply's own echo",
    )
    max_delay_s: float = setting(
        0.6,
        env="AUDIO_ECHO_MAX_DELAY",
        group=_GROUP,
        help="longest playback-to-microphone delay (network both ways, device buffers, room)",
    )
    margin_db: float = setting(
        8.0,
        env="AUDIO_ECHO_MARGIN_DB",
        group=_GROUP,
        help="how far above the predicted echo a band must be to hold someone else's voice",
    )
    onset_frames: int = setting(
        3,
        env="AUDIO_ECHO_ONSET_FRAMES",
        group=_GROUP,
        help="frames of voice over the echo in a row that make a barge-in",
    )

    def validate(self) -> None:
        if not 0.1 <= self.max_delay_s <= 2.0 or self.margin_db < 0 or self.onset_frames < 1:
            raise ValueError(
                "AUDIO_ECHO_MAX_DELAY must be 0.1-2 s, AUDIO_ECHO_MARGIN_DB >= 0, "
                "AUDIO_ECHO_ONSET_FRAMES >= 1"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EchoSettings:
        """Defaults overridden by the AUDIO_ECHO* variables that are set."""
        return load_settings(cls, environ)


def band_energies(frame: np.ndarray) -> np.ndarray:
    """Energy of one 20 ms 48 kHz frame in each band."""
    spectrum = np.abs(np.fft.rfft(frame.astype(np.float32) * _WINDOW)) ** 2 / FRAME_SAMPLES
    return np.array([spectrum[lo:hi].sum() for lo, hi in _BANDS], dtype=np.float64)


class DelayTracker:
    """Playback-to-microphone delay (in frames) and echo gain from the two spectrograms."""

    def __init__(self, max_lag: int, window: int = 50) -> None:
        self.max_lag = max_lag
        self.window = window
        self.lag: int | None = None
        self.gain = 1.0
        """Echo energy / reference energy at `lag` (starts at 0 dB: the worst case)."""
        self._ref: deque[np.ndarray] = deque(maxlen=window + max_lag)
        """Bands of the newest played frame at each microphone frame (same clock as _mic)."""
        self._mic: deque[np.ndarray] = deque(maxlen=window)
        self._since = 0

    def push(self, ref: np.ndarray, mic: np.ndarray) -> None:
        """One frame of each (reference as last sent, microphone as it arrived)."""
        self._ref.append(ref)
        self._mic.append(mic)
        self._since += 1
        if self._since >= 10 and len(self._ref) == self._ref.maxlen:
            self._since = 0
            self._estimate()

    def _estimate(self) -> None:
        ref_all, mic = np.asarray(self._ref), np.asarray(self._mic)
        newest = ref_all[-self.window :]
        if np.count_nonzero(newest.sum(axis=1) > SILENT_ENERGY) < self.window // 3:
            return  # too little played to tell
        log_mic = np.log10(mic + 1.0)
        best, best_lag = 0.0, None
        for lag in range(self.max_lag + 1):
            at_lag = ref_all[len(ref_all) - self.window - lag : len(ref_all) - lag]
            loud = at_lag > SILENT_ENERGY / len(_BANDS)
            if np.count_nonzero(loud) < 50:
                continue
            score = float(np.corrcoef(np.log10(at_lag[loud] + 1.0), log_mic[loud])[0, 1])
            if score > best:
                best, best_lag = score, lag
        if best_lag is None or best < 0.5:  # no echo to follow: bound it by the loudest reference
            lagged = np.lib.stride_tricks.sliding_window_view(ref_all, self.max_lag + 1, axis=0)
            loudest = lagged[-self.window :].max(axis=2)
            loud = loudest > SILENT_ENERGY / len(_BANDS)
            bound = float(np.percentile(mic[loud] / loudest[loud], 90)) if loud.any() else 1.0
            self.lag, self.gain = None, float(np.clip(bound, 1e-5, 1.0))
            return
        at_lag = ref_all[len(ref_all) - self.window - best_lag : len(ref_all) - best_lag]
        loud = at_lag > SILENT_ENERGY / len(_BANDS)
        self.lag = best_lag
        self.gain = float(np.clip(np.percentile(mic[loud] / at_lag[loud], 90), 1e-5, 1.0))


class EchoGuard:
    """Per device: turns VAD decisions into "someone is talking over the reply" decisions."""

    def __init__(self, settings: EchoSettings) -> None:
        self.settings = settings
        self._max_lag = max(1, round(settings.max_delay_s / FRAME_SECONDS))
        self._ref: deque[np.ndarray] = deque(maxlen=self._max_lag + 2)
        self._ref_live = 1 << 30
        """Frames since the last voiced reference frame (echo may still arrive until max lag)."""
        self.tracker = DelayTracker(self._max_lag)
        self._margin = 10 ** (settings.margin_db / 10)
        self._noise: np.ndarray | None = None
        self._run = 0
        self.suppressed = 0
        """Speech frames the VAD reported that were only the reply's echo."""

    @property
    def enabled(self) -> bool:
        return self.settings.mode is not EchoMode.OFF

    def played(self, frame: np.ndarray) -> None:
        """The frame just handed to WebRTC for this device (reply audio or silence)."""
        if not self.enabled:
            return
        bands = band_energies(frame) if frame.any() else np.zeros(len(_BANDS))
        self._ref.append(bands)
        self._ref_live = 0 if bands.sum() > SILENT_ENERGY else self._ref_live + 1

    @property
    def reference_live(self) -> bool:
        return self.enabled and bool(self._ref) and self._ref_live <= self._max_lag + 1

    def filter(self, frame: np.ndarray, speech: bool) -> bool:
        """The VAD said `speech` for this microphone frame: is it a voice over the echo?"""
        if not self.reference_live:
            self._run = 0
            return speech
        mic = band_energies(frame)
        self.tracker.push(self._ref[-1], mic)
        self._track_noise(mic)
        voice = speech and self._over_echo(mic)
        self._run = self._run + 1 if voice else 0
        if speech and self._run < self.settings.onset_frames:
            self.suppressed += 1
            return False
        if voice and self._run == self.settings.onset_frames:
            _LOGGER.debug(
                "voice over the echo: lag %s frames, gain %.4f, mic %.3g, predicted %.3g",
                self.tracker.lag,
                self.tracker.gain,
                mic.sum(),
                self._predicted().sum(),
            )
        return voice

    def _predicted(self) -> np.ndarray:
        refs = np.asarray(self._ref)
        lag = self.tracker.lag
        if lag is None:  # delay not known yet: the loudest echo the window could hold
            return refs.max(axis=0) * self.tracker.gain
        newest = len(refs) - 1
        lo, hi = max(0, newest - lag - 2), max(0, newest - lag + 2)
        return refs[lo : hi + 1].max(axis=0) * self.tracker.gain

    def _over_echo(self, mic: np.ndarray) -> bool:
        floor = self._noise if self._noise is not None else np.zeros_like(mic)
        echo = self._predicted() * self._margin + floor * 2.0
        excess = np.maximum(mic - echo, 0.0)
        voiced_bands = np.count_nonzero(mic > echo)
        return bool(voiced_bands >= 3 and excess.sum() >= 0.3 * mic.sum())

    def _track_noise(self, mic: np.ndarray) -> None:
        """A slowly rising minimum of the microphone's bands (the room's noise floor)."""
        if self._noise is None:
            self._noise = mic.copy()
        else:
            self._noise = np.minimum(self._noise * 1.02, np.maximum(mic, 1.0))
