"""Fixtures: a real aiortc loopback call, a real TCP receiver of VIDEO frames on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import aioice.ice
import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from naila_gateway.video import (
    CameraVideoConsumer,
    VideoConfig,
    attach_video_track,
)
from naila_gateway.video.sender import FrameSink
from naila_protocol.framing import Frame, FrameError, FrameKind, read_frame
from tests.helpers import StreamFrameSink


def decode_jpeg(data: bytes) -> av.VideoFrame:
    """Decode one JPEG with FFmpeg (what the AI server's decoder would see)."""
    with av.open(io.BytesIO(data), mode="r", format="mjpeg") as container:
        return next(container.decode(video=0))


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 when gathering host candidates; offer only loopback."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@dataclass
class VideoReceiver:
    """A stand-in AI server socket: parses every frame with naila_protocol.framing.read_frame;
    keepalive PINGs are counted apart, as the AI server ignores them."""

    host: str = "127.0.0.1"
    port: int = 0
    frames: list[tuple[float, Frame]] = field(default_factory=list)
    errors: list[FrameError] = field(default_factory=list)
    pings: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (frame := await read_frame(reader)) is not None:
                if frame.kind is FrameKind.PING:
                    self.pings += 1
                else:
                    self.frames.append((time.monotonic(), frame))
        except FrameError as err:
            self.errors.append(err)
        finally:
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[VideoReceiver]:
    recv = VideoReceiver()
    server = await asyncio.start_server(recv.handle, "127.0.0.1", 0)
    recv.port = server.sockets[0].getsockname()[1]
    async with server:
        yield recv


@pytest.fixture
async def tcp_sink(receiver: VideoReceiver) -> AsyncIterator[StreamFrameSink]:
    """The gateway end: a real TCP connection to the receiver."""
    _, writer = await asyncio.open_connection(receiver.host, receiver.port)
    yield StreamFrameSink(writer)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def play_over_webrtc(
    track: MediaStreamTrack,
    sink: FrameSink,
    config: VideoConfig,
    *,
    camera_id: str = "front_door",
    capabilities: Sequence[str] = ("camera", "audio"),
) -> CameraVideoConsumer:
    """Play `track` from a camera peer to a gateway peer over loopback, the gateway offering
    a receive-only video transceiver as its session does; return the consumer after the
    track has been played out and the gateway side has drained it."""
    gateway = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    camera = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    consumers: list[CameraVideoConsumer] = []
    ended = asyncio.Event()
    track.on("ended", ended.set)

    @gateway.on("track")
    def on_track(remote: MediaStreamTrack) -> None:
        if remote.kind == "video":
            consumers.append(attach_video_track(remote, camera_id, capabilities, sink, config))

    try:
        gateway.addTransceiver("video", direction="recvonly")
        await gateway.setLocalDescription(await gateway.createOffer())
        await camera.setRemoteDescription(
            RTCSessionDescription(gateway.localDescription.sdp, "offer")
        )
        camera.addTrack(track)
        await camera.setLocalDescription(await camera.createAnswer())
        await gateway.setRemoteDescription(
            RTCSessionDescription(camera.localDescription.sdp, "answer")
        )
        await asyncio.wait_for(ended.wait(), timeout=60)
        await asyncio.sleep(0.5)  # let the last frames cross the loopback and be analysed
        assert consumers, "the gateway never got the video track"
        return consumers[0]
    finally:
        await camera.close()
        await gateway.close()
        for consumer in consumers:
            await consumer.stop()
