"""Frame skip, rate limit, JPEG output and configuration of the motion gate."""

from __future__ import annotations

import pytest

from naila_gateway.video import MotionGate, VideoConfig, VideoFrameSender
from naila_protocol.framing import encode_frame
from naila_protocol.settings import SettingsParser
from naila_sim.synthetic import SyntheticScene

from .conftest import decode_jpeg


def test_frame_skip_analyses_one_frame_in_skip_plus_one() -> None:
    gate = MotionGate(VideoConfig(frame_skip=2))
    admitted = [gate.admit() for _ in range(9)]
    assert admitted == [True, False, False] * 3
    assert gate.stats.frames_seen == 9


def test_rate_limit_uses_the_given_clock() -> None:
    scene = SyntheticScene()
    gate = MotionGate(VideoConfig(max_fps=2.0, frame_skip=0))
    gate.process(scene.frame(), 0.0)
    sent = [gate.process(scene.frame(i), 0.1 * i) is not None for i in range(1, 21)]
    assert sum(sent) == 4  # t = 0.1, 0.6, 1.1, 1.6 within two seconds at 2 frames/s
    assert gate.stats.frames_rate_limited == 16
    assert gate.stats.motion_frames == 20


def test_wide_frames_are_scaled_before_jpeg_and_quality_counts() -> None:
    scene = SyntheticScene(1920, 1080, noise_sigma=12.0, square_size=300)
    frames = {}
    for quality in (30, 90):
        gate = MotionGate(VideoConfig(jpeg_quality=quality, jpeg_max_width=1280, max_fps=0))
        gate.process(scene.frame(), 0.0)
        frames[quality] = gate.process(scene.frame(4), 1.0)
    assert frames[30] is not None and frames[90] is not None
    assert len(frames[30]) < len(frames[90])
    image = decode_jpeg(frames[90])
    assert (image.width, image.height) == (1280, 720)


def test_video_frame_header_on_the_wire() -> None:
    frame = VideoFrameSender(sink=None, camera_id="front_door").make_frame(b"\xff\xd8jpeg")  # type: ignore[arg-type]
    wire = encode_frame(frame)
    header, body = wire.split(b"\n", 1)
    camera, length, rate, request_id, kind = header.decode().split("|")
    assert (camera, length, rate, kind, body) == ("front_door", "6", "0", "video", b"\xff\xd8jpeg")
    assert request_id.startswith("vid-")


@pytest.mark.parametrize("camera_id", ["", "bad id", "x" * 65, "a|b"])
def test_invalid_camera_ids_are_refused(camera_id: str) -> None:
    with pytest.raises(ValueError, match="invalid camera id"):
        VideoFrameSender(sink=None, camera_id=camera_id)  # type: ignore[arg-type]


def parse(argv: list[str], env: dict[str, str]) -> VideoConfig:
    config: VideoConfig = SettingsParser(VideoConfig).parse_settings(argv, env)
    return config


def test_config_defaults_env_and_flags() -> None:
    assert parse([], {}) == VideoConfig()
    env = {"VIDEO_FRAME_SKIP": "4", "VIDEO_MAX_FPS": "0.5", "VIDEO_JPEG_QUALITY": "60"}
    config = parse(["--video-max-fps", "3"], env)
    assert (config.frame_skip, config.max_fps, config.jpeg_quality) == (4, 3.0, 60)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {"VIDEO_FRAME_SKIP": "two"}, "--video-frame-skip: invalid int value"),
        (["--video-motion-area", "1.5"], {}, "--video-motion-area: '1.5' is outside"),
        ([], {"VIDEO_JPEG_QUALITY": "0"}, "--video-jpeg-quality: '0' is outside"),
    ],
)
def test_bad_settings_name_the_flag(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse(argv, env)
    assert message in capsys.readouterr().err


def test_config_refuses_impossible_values() -> None:
    with pytest.raises(ValueError, match="background_alpha"):
        VideoConfig(background_alpha=0.0)


def test_config_from_environment_alone() -> None:
    env = {"VIDEO_MOTION_THRESHOLD": "40", "VIDEO_MOTION_AREA": "0.02", "VIDEO_MAX_FPS": ""}
    config = VideoConfig.from_env(env)
    assert (config.motion_threshold, config.motion_area, config.max_fps) == (40, 0.02, 2.0)
    with pytest.raises(ValueError, match="VIDEO_JPEG_QUALITY"):
        VideoConfig.from_env({"VIDEO_JPEG_QUALITY": "high"})
