"""Settings of the motion-gated camera path (VIDEO_* variables, --video-* flags)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from naila_protocol.settings import load_settings, ranged, setting

_GROUP = "camera video (motion gating)"


@dataclass(frozen=True, slots=True)
class VideoConfig:
    """How camera frames are gated before they go to the AI server (docs/gateway_video.md)."""

    motion_threshold: int = setting(
        25,
        env="VIDEO_MOTION_THRESHOLD",
        group=_GROUP,
        parse=ranged(int, 0, 255),
        help="grey-level change that marks a pixel as changed",
    )
    motion_area: float = setting(
        0.005,
        env="VIDEO_MOTION_AREA",
        group=_GROUP,
        parse=ranged(float, 1e-6, 1.0),
        help="fraction of changed pixels that means motion",
    )
    frame_skip: int = setting(
        2,
        env="VIDEO_FRAME_SKIP",
        group=_GROUP,
        parse=ranged(int, 0, 100),
        help="frames skipped between two analysed frames (0: analyse every frame)",
    )
    max_fps: float = setting(
        2.0,
        env="VIDEO_MAX_FPS",
        group=_GROUP,
        parse=ranged(float, 0.0, 60.0),
        help="most motion frames sent per second per camera (0: no limit)",
    )
    jpeg_quality: int = setting(
        80,
        env="VIDEO_JPEG_QUALITY",
        group=_GROUP,
        parse=ranged(int, 1, 100),
        help="JPEG quality of frames sent to the AI server",
    )
    jpeg_max_width: int = setting(
        1280,
        env="VIDEO_JPEG_MAX_WIDTH",
        group=_GROUP,
        parse=ranged(int, 0, 8192),
        help="scale wider frames down before encoding (0: keep the size)",
    )
    analysis_width: int = setting(
        160,
        env="VIDEO_ANALYSIS_WIDTH",
        group=_GROUP,
        parse=ranged(int, 8, 640),
        help="width of the grey frame the motion detector compares (aspect ratio kept)",
    )
    background_alpha: float = setting(
        0.05,
        env="VIDEO_BACKGROUND_ALPHA",
        group=_GROUP,
        parse=ranged(float, 1e-4, 1.0),
        help="weight of a new frame in the running background (1.0: previous frame)",
    )

    def __post_init__(self) -> None:
        _check(0 <= self.motion_threshold <= 255, "motion_threshold must be 0-255")
        _check(0.0 < self.motion_area <= 1.0, "motion_area must be in (0, 1]")
        _check(0 <= self.frame_skip <= 100, "frame_skip must be 0-100")
        _check(self.max_fps >= 0.0, "max_fps must be >= 0")
        _check(1 <= self.jpeg_quality <= 100, "jpeg_quality must be 1-100")
        _check(self.jpeg_max_width == 0 or self.jpeg_max_width >= 16, "jpeg_max_width: 0 or >= 16")
        _check(8 <= self.analysis_width <= 640, "analysis_width must be 8-640")
        _check(0.0 < self.background_alpha <= 1.0, "background_alpha must be in (0, 1]")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VideoConfig:
        """Defaults overridden by the VIDEO_* variables that are set (SettingError names one)."""
        return load_settings(cls, environ)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
