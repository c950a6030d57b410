"""A simulated camera: an empty scene, then a person walks in (a real photo slides into view)."""

from __future__ import annotations

import asyncio
import fractions
import io
import time

import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import VIDEO_CLOCK_RATE, MediaStreamError, MediaStreamTrack

_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)


def decode_photo(jpeg: bytes, width: int) -> npt.NDArray[np.uint8]:
    """RGB pixels of a JPEG scaled to `width` (height keeps the aspect, rounded to even)."""
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        frame = next(container.decode(video=0))
    height = round(frame.height * width / frame.width / 2) * 2
    pixels = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
    return np.asarray(pixels, dtype=np.uint8)


class PersonSceneTrack(MediaStreamTrack):
    """Live video at `fps`: `empty_s` of a still, empty room, `walk_s` of the photo sliding in
    from the right, then the photo standing still for `stay_s`; then the track ends (0 = never)."""

    kind = "video"

    def __init__(
        self,
        photo: npt.NDArray[np.uint8],
        *,
        fps: float = 5.0,
        empty_s: float = 2.0,
        walk_s: float = 1.0,
        stay_s: float = 4.0,
    ) -> None:
        super().__init__()
        self.photo = photo
        self.fps = fps
        self.empty_s, self.walk_s, self.stay_s = empty_s, walk_s, stay_s
        self.empty = np.full_like(photo, 118)
        self.frames = 0
        self._start: float | None = None

    def render(self, seconds: float) -> npt.NDArray[np.uint8]:
        """The picture `seconds` into the scene."""
        walked = (seconds - self.empty_s) / self.walk_s
        if walked <= 0:
            return self.empty
        width = self.photo.shape[1]
        offset = int(width * max(0.0, 1.0 - walked))
        image = self.empty.copy()
        image[:, : width - offset] = self.photo[:, offset:]
        return image

    async def recv(self) -> av.VideoFrame:
        ends_at = self.empty_s + self.walk_s + self.stay_s
        if self.readyState != "live" or (self.stay_s > 0 and self.frames / self.fps >= ends_at):
            self.stop()
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        index = self.frames
        delay = self._start + index / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame.from_ndarray(self.render(index / self.fps), format="rgb24")
        frame.pts = round(index * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = _TIME_BASE
        self.frames += 1
        return frame
