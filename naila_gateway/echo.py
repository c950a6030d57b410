"""Echo-safe barge-in: a device's microphone hearing its own reply must not interrupt it.

The gateway knows every frame it plays to a device. `EchoGuard` keeps the spectrum of the
last `max_delay_s` of that reference and an upper bound of the echo's gain (GainBound), and
while the reference (or its echo tail) is live lets a microphone frame count as speech only
when, band by band, it exceeds the loudest echo the reference could cause by `margin_db`,
for `onset_frames` frames in a row. With nothing played the VAD's decision passes through.

`cancel` adds WebRTC AEC3 (naila_gateway/echo_cancel.py): the same comparison runs on the
cancelled microphone signal (its gain bound learned above the noise floor, one frame), which
hears a voice over a loud echo within a few frames. AEC3 leaks echo for a while after the
echo path moved (the delay jumps when frames stall on a loaded machine or network) and while
it converges, so the cancelled decision is
trusted only after `WARMUP_S` of played speech, `REPLY_SETTLE_S` into each reply and
`STALL_HOLD_S` after a stall; the `suppress` comparison on the raw microphone runs beside it
all the time and decides alone meanwhile.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from naila_gateway.echo_cancel import EchoCanceller, processor_class
from naila_gateway.pcm import FRAME_SAMPLES, WEBRTC_RATE
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
BOUND_PERCENTILE = 95.0
"""Percentile of microphone/reference ratios taken as the echo gain bound."""
VOICE_ENERGY = 7e7
"""Band-summed energy (≈ 500 RMS) at which a frame may be a voice even if the VAD says no:
the VAD's own decision is blurred by the echo, and a voice's first sounds are often soft."""
MIN_BANDS = 3
"""Bands that must exceed the predicted echo."""
MIN_EXCESS = 0.3
"""Share of the frame's energy that must lie above the predicted echo."""
SILENT_ENERGY = 1e4
"""Band-summed energy below which a reference frame counts as silence (int16 units)."""
CLEAN_VOICE_LEVEL = 150.0
"""Mean |amplitude| of a cancelled frame that may be a voice (AEC3 attenuates a voice's onset
under a loud echo, so this is lower than the energy VAD's 500)."""
STALL_GAP_S = 0.1
"""A gap between two microphone (or two played) frames this long is a stall: the echo path's
delay may have moved."""
STALL_HOLD_S = 2.5
"""How long after a stall only the raw comparison decides (AEC3 converging again)."""
WARMUP_S = 8.0
"""Seconds of played speech before the cancelled decision counts (AEC3's first convergence)."""
REPLY_SETTLE_S = 1.0
"""How long after played speech resumes (after `REPLY_GAP_S` of silence) only the raw
comparison decides: AEC3 confirms the echo path on the new reply first."""
REPLY_GAP_S = 0.5
CANCELLED_ONSET_FRAMES = 1
"""Frames over the residual (of the last + 1) that make a voice in the cancelled signal."""


_GROUP = "Echo (barge-in during replies)"


class EchoMode(enum.StrEnum):
    OFF = "off"
    """No protection: any speech while a reply plays is a barge-in."""
    SUPPRESS = "suppress"
    """Compare the microphone with the played reference (EchoGuard)."""
    CANCEL = "cancel"
    """WebRTC AEC3 on the microphone, then the comparison (beside `suppress`'s)."""


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
        help="off: any speech during a reply barges in; suppress: ignore the reply's own echo; "
        "cancel: also WebRTC AEC3 (faster barge-in over a loud echo)",
    )
    max_delay_s: float = setting(
        0.8,
        env="AUDIO_ECHO_MAX_DELAY",
        group=_GROUP,
        help="longest playback-to-microphone delay (network both ways, device buffers, room)",
    )
    margin_db: float = setting(
        6.0,
        env="AUDIO_ECHO_MARGIN_DB",
        group=_GROUP,
        help="how far above the predicted echo a band must be to hold someone else's voice",
    )
    onset_frames: int = setting(
        3,
        env="AUDIO_ECHO_ONSET_FRAMES",
        group=_GROUP,
        help="frames of voice over the echo (of the last onset_frames + 1) that make a barge-in",
    )

    reference_delay_s: float = setting(
        0.15,
        env="AUDIO_ECHO_REFERENCE_DELAY",
        group=_GROUP,
        help="cancel: the played audio reaches AEC3 this late (the shortest playback-to-"
        "microphone delay; AEC3 finds the rest, up to about 0.5 s more)",
    )

    def validate(self) -> None:
        if not 0.1 <= self.max_delay_s <= 2.0 or self.margin_db < 0 or self.onset_frames < 1:
            raise ValueError(
                "AUDIO_ECHO_MAX_DELAY must be 0.1-2 s, AUDIO_ECHO_MARGIN_DB >= 0, "
                "AUDIO_ECHO_ONSET_FRAMES >= 1"
            )
        if not 0.0 <= self.reference_delay_s <= 1.0:
            raise ValueError("AUDIO_ECHO_REFERENCE_DELAY must be 0-1 s")
        if self.mode is EchoMode.CANCEL:
            processor_class()  # the native library loads (a clear error at start, not per device)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EchoSettings:
        """Defaults overridden by the AUDIO_ECHO* variables that are set."""
        return load_settings(cls, environ)


def band_energies(frame: np.ndarray) -> np.ndarray:
    """Energy of one 20 ms 48 kHz frame in each band."""
    spectrum = np.abs(np.fft.rfft(frame.astype(np.float32) * _WINDOW)) ** 2 / FRAME_SAMPLES
    return np.array([spectrum[lo:hi].sum() for lo, hi in _BANDS], dtype=np.float64)


class GainBound:
    """An upper bound of the echo's gain: microphone over the loudest reference that could hold it.

    Rises at once, falls slowly (halving at most per update), starts at 0 dB (the worst case).
    """

    def __init__(self, window: int = 100, every: int = 10) -> None:
        self.gain = 1.0
        self._ratios: deque[np.ndarray] = deque(maxlen=window)
        self._every = every
        self._since = 0

    def push(self, mic: np.ndarray, loudest: np.ndarray) -> None:
        loud = loudest > SILENT_ENERGY / len(_BANDS)
        self._ratios.append(mic[loud] / loudest[loud])
        self._since += 1
        if self._since >= self._every and len(self._ratios) == self._ratios.maxlen:
            self._since = 0
            cells = np.concatenate(self._ratios)
            if cells.size >= 200:
                bound = float(np.clip(np.percentile(cells, BOUND_PERCENTILE), 1e-5, 1.0))
                self.gain = max(bound, self.gain * 0.5)


class EchoGuard:
    """Per device: turns VAD decisions into "someone is talking over the reply" decisions.

    The echo predicted for a microphone frame is, band by band, the loudest reference frame
    played in the last `max_delay_s` times the echo gain bound: no delay estimate is needed,
    so network jitter and device buffers that move the delay cannot let an echo through.
    """

    def __init__(self, settings: EchoSettings, *, bound_above_noise: bool = False) -> None:
        self.settings = settings
        self._ref: deque[tuple[float, np.ndarray]] = deque()
        self._last_voiced: float | None = None
        self.bound = GainBound()
        self._margin = 10 ** (settings.margin_db / 10)
        self._noise: np.ndarray | None = None
        self._run = 0
        self._recent: deque[bool] = deque(maxlen=settings.onset_frames + 1)
        """Over-the-echo decisions of the last frames: `onset_frames` of them make a voice."""
        self.suppressed = 0
        """Speech frames the VAD reported that were only the reply's echo."""
        self._bound_above_noise = bound_above_noise
        """Learn the gain bound from what lies above the noise floor (a cancelled signal: its
        residual echo is far below the room's noise in most bands)."""
        self.canceller: EchoCanceller | None = None
        self._cancelled: EchoGuard | None = None
        """cancel: the comparison on AEC3's output (bound above the noise, one frame)."""
        self._last_frame: dict[str, float] = {}
        self._stalled_at = float("-inf")
        self._reference_s = 0.0
        """Seconds of played speech so far (cancel: AEC3 has converged after WARMUP_S)."""
        self._resumed_at = float("-inf")
        """When played speech last resumed after a silence."""
        if settings.mode is EchoMode.CANCEL:
            self.canceller = EchoCanceller(settings.reference_delay_s)
            self._cancelled = EchoGuard(
                dataclasses.replace(
                    settings,
                    mode=EchoMode.SUPPRESS,
                    onset_frames=CANCELLED_ONSET_FRAMES,
                ),
                bound_above_noise=True,
            )

    @property
    def enabled(self) -> bool:
        return self.settings.mode is not EchoMode.OFF

    def played(self, frame: np.ndarray, at: float | None = None) -> None:
        """The frame just handed to WebRTC for this device (reply audio or silence)."""
        if not self.enabled:
            return
        now = time.perf_counter() if at is None else at
        if self.canceller is not None and self._cancelled is not None:
            self._note_gap("played", now)
            self.canceller.played(frame, now)
            self._cancelled.played(frame, now)
        bands = band_energies(frame) if frame.any() else np.zeros(len(_BANDS))
        self._ref.append((now, bands))
        if bands.sum() > SILENT_ENERGY:
            if self._last_voiced is None or now - self._last_voiced > REPLY_GAP_S:
                self._resumed_at = now
            self._last_voiced = now
            self._reference_s += FRAME_SAMPLES / WEBRTC_RATE
        while self._ref and self._ref[0][0] < now - self.settings.max_delay_s:
            self._ref.popleft()

    def reference_live(self, now: float | None = None) -> bool:
        """Played audio loud enough to echo within the last `max_delay_s`."""
        now = time.perf_counter() if now is None else now
        return (
            self.enabled
            and self._last_voiced is not None
            and now - self._last_voiced <= self.settings.max_delay_s
        )

    def filter(self, frame: np.ndarray, speech: bool, at: float | None = None) -> bool:
        """The VAD said `speech` for this microphone frame: is it a voice over the echo?"""
        now = time.perf_counter() if at is None else at
        raw = self._compare(frame, speech, now)
        if self.canceller is None or self._cancelled is None:
            return raw
        self._note_gap("heard", now)
        cleaned = self.canceller.cancel(frame, now)
        loud = float(np.abs(cleaned.astype(np.float32)).mean()) > CLEAN_VOICE_LEVEL
        cancelled = self._cancelled.filter(cleaned, loud, now)
        if raw or not self.reference_live(now):
            return raw
        settled = (
            now - self._stalled_at > STALL_HOLD_S
            and now - self._resumed_at > REPLY_SETTLE_S
            and self._reference_s >= WARMUP_S
        )
        return cancelled and settled

    def _note_gap(self, stream: str, now: float) -> None:
        """A stall of either stream: the echo's delay may have moved."""
        last = self._last_frame.get(stream)
        if last is not None and now - last > STALL_GAP_S:
            self._stalled_at = now
        self._last_frame[stream] = now

    def _compare(self, frame: np.ndarray, speech: bool, now: float) -> bool:
        if not self.reference_live(now):
            self._run = 0
            self._recent.clear()
            return speech
        mic = band_energies(frame)
        loudest = self._loudest(now)
        self._track_noise(mic)
        over = (speech or mic.sum() > VOICE_ENERGY) and self._over_echo(
            mic, loudest * self.bound.gain
        )
        self._recent.append(over)
        voice = over and sum(self._recent) >= self.settings.onset_frames
        if not voice:  # frames of a voice already heard must not raise the bound
            floor = self._noise if self._bound_above_noise else None
            self.bound.push(mic if floor is None else np.maximum(mic - 2.0 * floor, 0.0), loudest)
        self._run = self._run + 1 if voice else 0
        if speech and not voice:
            self.suppressed += 1
            return False
        if voice and self._run == 1:
            _LOGGER.debug(
                "voice over the echo: gain bound %.4f, mic %.3g, loudest reference %.3g",
                self.bound.gain,
                mic.sum(),
                loudest.sum(),
            )
        return voice

    def _loudest(self, now: float) -> np.ndarray:
        window = [b for t, b in self._ref if t >= now - self.settings.max_delay_s]
        return np.max(window, axis=0) if window else np.zeros(len(_BANDS))

    def _over_echo(self, mic: np.ndarray, echo: np.ndarray) -> bool:
        floor = self._noise if self._noise is not None else np.zeros_like(mic)
        limit = echo * self._margin + floor * 2.0
        excess = np.maximum(mic - limit, 0.0)
        return bool(
            np.count_nonzero(mic > limit) >= MIN_BANDS and excess.sum() >= MIN_EXCESS * mic.sum()
        )

    def _track_noise(self, mic: np.ndarray) -> None:
        """A slowly rising minimum of the microphone's bands (the room's noise floor)."""
        if self._noise is None:
            self._noise = mic.copy()
        else:
            self._noise = np.minimum(self._noise * 1.02, np.maximum(mic, 1.0))
