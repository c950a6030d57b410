"""Settings of the motion-gated camera path: dataclass, argparse group, environment variables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

ENV_PREFIX = "VIDEO_"


@dataclass(frozen=True, slots=True)
class VideoConfig:
    """How camera frames are gated before they go to the AI server (docs/gateway_video.md)."""

    motion_threshold: int = 25
    """A pixel counts as changed when its grey level differs from the background by more."""
    motion_area: float = 0.005
    """Motion when at least this fraction of the analysed pixels changed."""
    frame_skip: int = 2
    """Frames skipped between two analysed frames (0 = analyse every frame)."""
    max_fps: float = 2.0
    """Most motion frames sent per second per camera (0 = no limit)."""
    jpeg_quality: int = 80
    """JPEG quality 1-100 of the frames sent."""
    jpeg_max_width: int = 1280
    """Frames wider than this are scaled down before JPEG encoding (0 = keep the size)."""
    analysis_width: int = 160
    """Width of the grey frame the motion detector compares (aspect ratio kept)."""
    background_alpha: float = 0.05
    """Weight of each analysed frame in the running background (1.0 = previous frame)."""

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
    def from_namespace(cls, args: argparse.Namespace) -> VideoConfig:
        """Build from the flags added by add_video_arguments."""
        return cls(**{f.name: getattr(args, f"video_{f.name}") for f in fields(cls)})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VideoConfig:
        """Defaults overridden by the VIDEO_* variables that are set and non-empty.

        Raises ValueError naming the variable for a bad value.
        """
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for name, parse, _ in _FLAGS:
            raw = env.get(env_name(name), "")
            if raw == "":
                continue
            try:
                values[name] = parse(raw)
            except (ValueError, argparse.ArgumentTypeError) as err:
                raise ValueError(f"{env_name(name)}: {err}") from None
        return cls(**values)  # type: ignore[arg-type]


def env_name(field_name: str) -> str:
    """Environment variable of one VideoConfig field (VIDEO_<FIELD>)."""
    return ENV_PREFIX + field_name.upper()


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _ranged(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is outside {low:g}..{high:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


_FLAGS: tuple[tuple[str, Callable[[str], float], str], ...] = (
    ("motion_threshold", _ranged(int, 0, 255), "grey-level change that marks a pixel as changed"),
    ("motion_area", _ranged(float, 1e-6, 1.0), "fraction of changed pixels that means motion"),
    ("frame_skip", _ranged(int, 0, 100), "frames skipped between two analysed frames"),
    (
        "max_fps",
        _ranged(float, 0.0, 60.0),
        "most motion frames sent per second per camera (0: no limit)",
    ),
    ("jpeg_quality", _ranged(int, 1, 100), "JPEG quality of frames sent to the AI server"),
    ("jpeg_max_width", _ranged(int, 0, 8192), "scale wider frames down before encoding (0: keep)"),
    (
        "analysis_width",
        _ranged(int, 8, 640),
        "width of the grey frame the motion detector compares",
    ),
    ("background_alpha", _ranged(float, 1e-4, 1.0), "weight of a new frame in the background"),
)


def add_video_arguments(
    parser: argparse.ArgumentParser, environ: Mapping[str, str] | None = None
) -> argparse._ArgumentGroup:
    """Add the 'camera video' flag group; each flag defaults to VIDEO_<NAME> from the environment."""
    env = os.environ if environ is None else environ
    defaults = VideoConfig()
    group = parser.add_argument_group("camera video (motion gating)")
    for name, kind, text in _FLAGS:
        variable = env_name(name)
        default = env.get(variable) or str(getattr(defaults, name))
        group.add_argument(
            "--video-" + name.replace("_", "-"),
            dest=f"video_{name}",
            type=kind,
            default=default,
            help=f"{text} (env {variable}, default {getattr(defaults, name)})",
        )
    return group
