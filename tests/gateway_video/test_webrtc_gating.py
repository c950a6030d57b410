"""Motion gating end to end: synthetic camera -> real aiortc call -> gateway -> TCP VIDEO frames."""

from __future__ import annotations

from naila_gateway.video import VideoConfig
from naila_protocol.framing import FrameKind
from naila_sim.synthetic import MOVING, STATIC, SyntheticCameraTrack, SyntheticScene
from tests.helpers import StreamFrameSink, wait_until

from .conftest import VideoReceiver, decode_jpeg, play_over_webrtc

FPS = 10


async def test_static_noisy_scene_sends_nothing(
    receiver: VideoReceiver, tcp_sink: StreamFrameSink
) -> None:
    track = SyntheticCameraTrack(SyntheticScene(noise_sigma=10), [(STATIC, 30)], fps=FPS)
    consumer = await play_over_webrtc(track, tcp_sink, VideoConfig(frame_skip=0))
    stats = consumer.stats
    assert stats.frames_seen >= 25
    assert stats.frames_analysed >= 10
    assert stats.motion_frames == 0
    assert stats.frames_sent == 0
    assert receiver.frames == []


async def test_moving_square_sends_decodable_jpeg_video_frames(
    receiver: VideoReceiver, tcp_sink: StreamFrameSink
) -> None:
    scene = SyntheticScene(320, 240, noise_sigma=10)
    track = SyntheticCameraTrack(scene, [(STATIC, 20), (MOVING, 20)], fps=FPS)
    consumer = await play_over_webrtc(track, tcp_sink, VideoConfig(frame_skip=1, max_fps=0))
    await wait_until(lambda: len(receiver.frames) >= consumer.stats.frames_sent, 1.0)

    assert consumer.stats.frames_sent >= 5
    assert len(receiver.frames) == consumer.stats.frames_sent
    assert receiver.errors == []
    first_arrival = receiver.frames[0][0]
    assert first_arrival >= track.phase_started[MOVING]  # nothing from the static part
    request_ids = set()
    for _, frame in receiver.frames:
        assert frame.kind is FrameKind.VIDEO
        assert (frame.device_id, frame.sample_rate) == ("front_door", 0)
        request_ids.add(frame.request_id)
        image = decode_jpeg(frame.payload)
        assert (image.width, image.height) == (320, 240)
    assert len(request_ids) == len(receiver.frames)


async def test_rate_limit_holds_per_camera(
    receiver: VideoReceiver, tcp_sink: StreamFrameSink
) -> None:
    max_fps = 2.0
    track = SyntheticCameraTrack(SyntheticScene(noise_sigma=6), [(MOVING, 30)], fps=FPS)
    consumer = await play_over_webrtc(track, tcp_sink, VideoConfig(frame_skip=0, max_fps=max_fps))
    await wait_until(lambda: len(receiver.frames) >= consumer.stats.frames_sent, 1.0)
    stats = consumer.stats

    duration = len(receiver.frames) and receiver.frames[-1][0] - receiver.frames[0][0]
    assert stats.motion_frames >= 8
    assert 3 <= stats.frames_sent <= 30 / FPS * max_fps + 1
    assert stats.frames_rate_limited == stats.motion_frames - stats.frames_sent
    assert len(receiver.frames) == stats.frames_sent
    assert duration >= (stats.frames_sent - 1) / max_fps - 0.3
