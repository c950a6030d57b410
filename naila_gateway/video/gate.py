"""Per-camera decision pipeline: frame skip -> motion detection -> rate limit -> JPEG."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import av

from naila_gateway.video.config import VideoConfig
from naila_gateway.video.jpeg import JpegEncoder
from naila_gateway.video.motion import MotionDetector, MotionResult, to_analysis_grey
from naila_gateway.video.rate_limit import RateLimiter


@dataclass(slots=True)
class VideoStats:
    """Counters of one camera stream."""

    frames_seen: int = 0
    frames_analysed: int = 0
    motion_frames: int = 0
    frames_sent: int = 0
    frames_rate_limited: int = 0
    """Motion frames not sent because of max_fps."""
    frames_busy: int = 0
    """Frames due for analysis dropped because the previous one was still being processed."""
    send_errors: int = 0
    frame_errors: int = 0
    """Frames that could not be analysed or encoded."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class MotionGate:
    """Decides which frames of one camera reach the AI server. Not thread-safe: one frame at a time."""

    def __init__(self, config: VideoConfig, stats: VideoStats | None = None) -> None:
        self.config = config
        self.stats = stats if stats is not None else VideoStats()
        self.detector = MotionDetector(
            config.motion_threshold, config.motion_area, config.background_alpha
        )
        self.encoder = JpegEncoder(config.jpeg_quality, config.jpeg_max_width)
        self._limiter = RateLimiter(config.max_fps)
        self._since_analysed = config.frame_skip

    def admit(self) -> bool:
        """Count a received frame; True when it is due for analysis (every frame_skip+1-th)."""
        self.stats.frames_seen += 1
        if self._since_analysed < self.config.frame_skip:
            self._since_analysed += 1
            return False
        self._since_analysed = 0
        return True

    def detect(self, frame: av.VideoFrame) -> MotionResult:
        """Motion detection on one frame (counts it as analysed)."""
        result = self.detector.update(to_analysis_grey(frame, self.config.analysis_width))
        self.stats.frames_analysed += 1
        if result.motion:
            self.stats.motion_frames += 1
        return result

    def process(self, frame: av.VideoFrame, now: float) -> bytes | None:
        """JPEG of the frame when it shows motion and the rate limit allows, else None."""
        if not self.detect(frame).motion:
            return None
        if not self._limiter.allow(now):
            self.stats.frames_rate_limited += 1
            return None
        return self.encoder.encode(frame)
