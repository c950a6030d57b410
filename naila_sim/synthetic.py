"""Synthetic camera for motion gating: a still noisy scene and a moving square (aiortc track)."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Sequence

import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import VIDEO_CLOCK_RATE, MediaStreamError, MediaStreamTrack

STATIC = "static"
MOVING = "moving"
Phase = tuple[str, int]
"""(STATIC or MOVING, number of frames)."""

_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)


class SyntheticScene:
    """A fixed blocky RGB scene plus per-frame Gaussian sensor noise and an optional square."""

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        *,
        noise_sigma: float = 6.0,
        square_size: int = 48,
        square_speed: int = 8,
        seed: int = 0,
    ) -> None:
        self.width, self.height = width, height
        self.noise_sigma = noise_sigma
        self.square_size = square_size
        self.square_speed = square_speed
        self._rng = np.random.default_rng(seed)
        block = 16
        coarse = self._rng.integers(40, 200, (height // block + 1, width // block + 1, 3))
        tiled = np.kron(coarse, np.ones((block, block, 1), dtype=np.int64))
        self.background = tiled[:height, :width].astype(np.int16)

    def square_position(self, index: int) -> tuple[int, int]:
        """Top-left corner of the square in moving frame `index` (bounces off the edges)."""
        span_x = self.width - self.square_size
        travel = (index * self.square_speed) % (2 * span_x)
        x = travel if travel <= span_x else 2 * span_x - travel
        return x, (self.height - self.square_size) // 2

    def render(self, moving_index: int | None = None) -> npt.NDArray[np.uint8]:
        """One RGB frame: the scene, fresh noise and, if moving_index is given, the square."""
        image = self.background.copy()
        if self.noise_sigma > 0:
            noise = self._rng.standard_normal(image.shape, dtype=np.float32)
            image += (noise * np.float32(self.noise_sigma)).astype(np.int16)
        if moving_index is not None:
            x, y = self.square_position(moving_index)
            image[y : y + self.square_size, x : x + self.square_size] = (250, 250, 250)
        return np.clip(image, 0, 255).astype(np.uint8)

    def frame(self, moving_index: int | None = None) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(self.render(moving_index), format="rgb24")


class SyntheticCameraTrack(MediaStreamTrack):
    """An aiortc video track playing phases of a SyntheticScene at `fps`, then ending.

    With realtime=False frames come as fast as they are asked for (benchmarks).
    """

    kind = "video"

    def __init__(
        self,
        scene: SyntheticScene,
        phases: Sequence[Phase],
        *,
        fps: float = 10.0,
        realtime: bool = True,
    ) -> None:
        super().__init__()
        self.scene = scene
        self.phases = list(phases)
        self.fps = fps
        self.realtime = realtime
        self.frames_produced = 0
        self.phase_started: dict[str, float] = {}
        """Monotonic time each phase's first frame was produced."""
        self._start: float | None = None
        self._plan = [(name, i) for name, count in self.phases for i in range(count)]

    @property
    def total_frames(self) -> int:
        return len(self._plan)

    async def recv(self) -> av.VideoFrame:
        index = self.frames_produced
        if self.readyState != "live" or index >= len(self._plan):
            self.stop()
            raise MediaStreamError
        if self.realtime:
            if self._start is None:
                self._start = time.monotonic()
            delay = self._start + index / self.fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        name, phase_index = self._plan[index]
        self.phase_started.setdefault(name, time.monotonic())
        frame = self.scene.frame(phase_index if name == MOVING else None)
        frame.pts = round(index * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = _TIME_BASE
        self.frames_produced += 1
        return frame
