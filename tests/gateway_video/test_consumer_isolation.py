"""One camera's broken connection or odd frames never stop it draining nor touch another camera."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from naila_gateway.server_client import ServerClient
from naila_gateway.video import (
    CameraVideoConsumer,
    VideoConfig,
    attach_video_track,
)
from naila_protocol.framing import FrameKind
from naila_sim.synthetic import MOVING, SyntheticCameraTrack, SyntheticScene
from tests.helpers import StreamFrameSink, wait_until

from .conftest import VideoReceiver

EVERY_MOVING_FRAME = VideoConfig(frame_skip=0, max_fps=0)


class ListTrack(MediaStreamTrack):
    """Plays a fixed list of frames (whatever a device might send) at 10 frames/s."""

    kind = "video"

    def __init__(self, frames: Sequence[av.VideoFrame | av.AudioFrame]) -> None:
        super().__init__()
        self._frames = list(frames)

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        await asyncio.sleep(0.1)  # pacing: a camera's frame interval
        if not self._frames:
            self.stop()
            raise MediaStreamError
        return self._frames.pop(0)


@pytest.fixture
async def closed_server_sink() -> AsyncIterator[StreamFrameSink]:
    """A connection to an 'AI server' that hangs up at once."""

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with server:
        _, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        yield StreamFrameSink(writer)
        writer.close()


def moving_track(frames: int = 30) -> SyntheticCameraTrack:
    return SyntheticCameraTrack(SyntheticScene(noise_sigma=6), [(MOVING, frames)], fps=20)


async def test_broken_server_connection_of_one_camera_spares_the_other(
    closed_server_sink: StreamFrameSink, receiver: VideoReceiver, tcp_sink: StreamFrameSink
) -> None:
    broken = CameraVideoConsumer(moving_track(), "garage", closed_server_sink, EVERY_MOVING_FRAME)
    healthy = CameraVideoConsumer(moving_track(), "porch", tcp_sink, EVERY_MOVING_FRAME)
    broken.start(), healthy.start()
    await asyncio.wait_for(asyncio.gather(broken.wait_closed(), healthy.wait_closed()), 30)
    await wait_until(lambda: len(receiver.frames) >= healthy.stats.frames_sent, 5)

    assert broken.stats.frames_seen == 30
    assert broken.stats.send_errors >= 1
    assert healthy.stats.frames_sent >= 3
    assert healthy.stats.send_errors == 0
    assert [f.device_id for _, f in receiver.frames] == ["porch"] * healthy.stats.frames_sent


def rgb(width: int, height: int, value: int) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.full((height, width, 3), value, np.uint8), format="rgb24")


async def test_odd_frames_are_counted_and_the_stream_goes_on(
    receiver: VideoReceiver, tcp_sink: StreamFrameSink
) -> None:
    silence = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16", layout="mono")
    frames: list[av.VideoFrame | av.AudioFrame] = [
        rgb(2, 2, 10),
        silence,
        rgb(4000, 8, 50),
        rgb(320, 240, 20),
        rgb(320, 240, 20),
    ]
    frames += [rgb(320, 240, 220)]  # lights on: the whole picture changes
    odd = CameraVideoConsumer(ListTrack(frames), "attic", tcp_sink, EVERY_MOVING_FRAME).start()
    await asyncio.wait_for(odd.wait_closed(), 10)
    await wait_until(lambda: len(receiver.frames) >= odd.stats.frames_sent, 5)

    assert odd.stats.frames_seen == 6
    assert odd.stats.frame_errors == 1  # the audio frame
    assert odd.stats.frames_analysed == 5
    assert odd.stats.frames_sent == 1
    assert len(receiver.frames) == 1


async def test_video_from_a_device_without_camera_capability_is_drained_not_sent(
    receiver: VideoReceiver, tcp_sink: StreamFrameSink
) -> None:
    consumer = attach_video_track(moving_track(20), "kitchen_speaker", ["microphone"], tcp_sink)
    await asyncio.wait_for(consumer.wait_closed(), 10)

    assert consumer.stats.frames_seen == 20
    assert consumer.stats.frames_analysed == 0
    assert receiver.frames == []


async def test_the_gateways_server_client_carries_video_frames(receiver: VideoReceiver) -> None:
    client = ServerClient([(receiver.host, receiver.port)])
    client.start()
    try:
        await asyncio.wait_for(client.wait_connected(), 10)
        consumer = CameraVideoConsumer(moving_track(20), "porch", client, EVERY_MOVING_FRAME)
        await asyncio.wait_for(consumer.start().wait_closed(), 10)
        await wait_until(lambda: len(receiver.frames) >= consumer.stats.frames_sent, 5)
    finally:
        await client.stop()

    assert consumer.stats.frames_sent >= 3
    assert len(receiver.frames) == consumer.stats.frames_sent
    assert {f.kind for _, f in receiver.frames} == {FrameKind.VIDEO}


async def test_frames_while_the_server_is_down_are_counted_not_queued() -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ServerClient([("127.0.0.1", port)])
    consumer = CameraVideoConsumer(moving_track(20), "porch", client, EVERY_MOVING_FRAME)
    await asyncio.wait_for(consumer.start().wait_closed(), 10)

    assert consumer.stats.frames_seen == 20
    assert consumer.stats.frames_sent == 0
    assert consumer.stats.send_errors == consumer.stats.motion_frames >= 3
