"""Cheap motion detection: downscaled grey frames against a slowly updated background."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

GreyImage = npt.NDArray[np.uint8]


def analysis_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Size of the analysis frame: at most max_width wide, aspect ratio kept, even sides."""
    if width <= max_width:
        return width, height
    scaled_h = max(2, round(height * max_width / width))
    return max_width - max_width % 2, scaled_h - scaled_h % 2


def to_analysis_grey(frame: av.VideoFrame, max_width: int) -> GreyImage:
    """Grey frame at most max_width wide; area averaging also smooths sensor noise."""
    width, height = analysis_size(frame.width, frame.height, max_width)
    small = frame.reformat(width=width, height=height, format="gray", interpolation="AREA")
    return np.ascontiguousarray(small.to_ndarray(), dtype=np.uint8)


def box_blur3(image: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """3x3 mean filter (edges repeated): cuts per-pixel sensor noise by about 3x."""
    padded = np.pad(image, 1, mode="edge")
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) * np.float32(1.0 / 9.0)


@dataclass(frozen=True, slots=True)
class MotionResult:
    motion: bool
    changed_fraction: float
    """Fraction of pixels that differ from the background by more than the threshold."""


class MotionDetector:
    """Absolute difference against a running-average background, thresholded twice.

    Each grey frame is smoothed with a 3x3 box filter (sensor noise), then a pixel
    changed when |frame - background| > pixel_threshold; the frame shows motion
    when the changed fraction reaches area_fraction. The background follows the scene
    with weight background_alpha per frame (1.0 compares with the previous frame), so
    an object that stops moving is absorbed after a few dozen analysed frames.
    """

    def __init__(
        self,
        pixel_threshold: int = 25,
        area_fraction: float = 0.005,
        background_alpha: float = 0.05,
    ) -> None:
        self.pixel_threshold = pixel_threshold
        self.area_fraction = area_fraction
        self.background_alpha = background_alpha
        self._background: npt.NDArray[np.float32] | None = None

    def reset(self) -> None:
        """Forget the background; the next frame becomes it."""
        self._background = None

    def update(self, grey: GreyImage) -> MotionResult:
        """Compare one grey frame with the background, then blend it in."""
        if grey.ndim != 2 or grey.size == 0:
            raise ValueError(f"expected a non-empty 2-D grey image, got shape {grey.shape}")
        frame = box_blur3(grey.astype(np.float32))
        background = self._background
        if background is None or background.shape != frame.shape:
            self._background = frame
            return MotionResult(False, 0.0)
        diff = np.abs(frame - background)
        changed = float(np.count_nonzero(diff > self.pixel_threshold)) / diff.size
        background += self.background_alpha * (frame - background)
        return MotionResult(changed >= self.area_fraction, changed)
