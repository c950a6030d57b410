"""MotionDetector and the grey analysis frames: noise, motion, absorption, odd input."""

from __future__ import annotations

import av
import numpy as np
import pytest

from naila_gateway.video import MotionDetector, MotionGate, VideoConfig, to_analysis_grey
from naila_sim.synthetic import SyntheticScene


def grey(scene: SyntheticScene, moving_index: int | None = None) -> np.ndarray:
    return to_analysis_grey(scene.frame(moving_index), 160)


@pytest.mark.parametrize("sigma", [0.0, 10.0, 30.0])
def test_sensor_noise_is_not_motion(sigma: float) -> None:
    scene = SyntheticScene(640, 480, noise_sigma=sigma, seed=1)
    detector = MotionDetector()
    results = [detector.update(grey(scene)) for _ in range(60)]
    assert not any(r.motion for r in results)


def test_moving_square_is_motion_in_every_frame() -> None:
    scene = SyntheticScene(640, 480, noise_sigma=20.0, square_size=64)
    detector = MotionDetector()
    detector.update(grey(scene))
    results = [detector.update(grey(scene, i)) for i in range(30)]
    assert all(r.motion for r in results)
    assert min(r.changed_fraction for r in results) > 0.005


def test_object_that_stops_is_absorbed_into_the_background() -> None:
    scene = SyntheticScene(noise_sigma=8.0)
    detector = MotionDetector(background_alpha=0.1)
    detector.update(grey(scene))
    assert detector.update(grey(scene, 5)).motion
    settled = [detector.update(grey(scene, 5)).motion for _ in range(80)]
    assert settled[0] and not any(settled[-20:])


def test_previous_frame_mode_forgets_a_stopped_object_at_once() -> None:
    scene = SyntheticScene(noise_sigma=8.0)
    detector = MotionDetector(background_alpha=1.0)
    detector.update(grey(scene))
    assert detector.update(grey(scene, 5)).motion
    assert not detector.update(grey(scene, 5)).motion


def test_resolution_change_restarts_the_background() -> None:
    detector = MotionDetector()
    small, large = SyntheticScene(320, 240, seed=1), SyntheticScene(640, 360, seed=2)
    detector.update(grey(small))
    assert not detector.update(grey(large)).motion
    assert not detector.update(grey(large)).motion
    assert detector.update(grey(large, 3)).motion


@pytest.mark.parametrize("shape", [(0, 0), (4, 4, 3), (10,)])
def test_bad_arrays_are_refused_clearly(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="grey image"):
        MotionDetector().update(np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1920, 1080), (160, 90)), ((640, 480), (160, 120)), ((64, 48), (64, 48)), ((3, 3), (3, 3))],
)
def test_analysis_frames_are_small_grey_and_keep_aspect(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    width, height = size
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 90, np.uint8), format="rgb24")
    image = to_analysis_grey(frame, 160)
    assert image.dtype == np.uint8
    assert (image.shape[1], image.shape[0]) == expected


@pytest.mark.parametrize(("fps", "frame_skip"), [(5, 0), (15, 0), (15, 2)])
def test_a_slow_walker_is_seen_at_5_to_15_fps(fps: int, frame_skip: int) -> None:
    """A 1 m/s walker crossing a 4 m wide view: 160 px/s on a 640 px frame."""
    speed = round(160 / fps)
    scene = SyntheticScene(640, 480, noise_sigma=10.0, square_size=96, square_speed=speed)
    gate = MotionGate(VideoConfig(frame_skip=frame_skip, max_fps=0))
    gate.process(scene.frame(), 0.0)
    sent = [
        gate.process(scene.frame(i), i / fps) is not None for i in range(2 * fps) if gate.admit()
    ]
    assert len(sent) == -(-2 * fps // (frame_skip + 1))
    assert all(sent)
