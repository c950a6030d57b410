"""Motion gating on the gateway: detector calls per frames seen, and what the gating costs.

Part 1 (calls): synthetic scenes (static noisy room, a square moving the whole time, and a
square crossing for 10 % of the time) go through the gateway's MotionGate with the camera's
own clock; every frame it releases is one call of the AI server's detector. Baselines in
the same run: every frame to the detector (no gating), and the rate limit alone.
Part 2 (CPU): per-frame thread CPU time of the motion detector (grey downscale + compare)
beside the JPEG encode of a motion frame and the VP8 decode every received frame costs anyway.
Part 3 (optional, --webrtc-seconds): the same static/moving scenes over a real aiortc
loopback call into CameraVideoConsumer, a real TCP socket behind it.

    .venv/bin/python -m bench.motion_gating [--seconds 30] [--fps 15] [--webrtc-seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aioice.ice
import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from naila_gateway.video import (
    CameraVideoConsumer,
    MotionDetector,
    MotionGate,
    VideoConfig,
    VideoStats,
    to_analysis_grey,
)
from naila_gateway.video.jpeg import JpegEncoder
from naila_protocol.framing import read_frame
from naila_protocol.settings import SettingsParser
from naila_sim.synthetic import (
    MOVING,
    STATIC,
    Phase,
    SyntheticCameraTrack,
    SyntheticScene,
)
from tests.helpers import StreamFrameSink


@dataclass
class GatingRow:
    scene: str
    stats: VideoStats
    seconds: float

    def ungated_calls(self) -> int:
        return self.stats.frames_seen

    def rate_only_calls(self, config: VideoConfig) -> int:
        if config.max_fps <= 0:
            return self.stats.frames_seen
        return min(self.stats.frames_seen, int(self.seconds * config.max_fps) + 1)


def scenes(frames: int) -> dict[str, list[Phase]]:
    crossing = max(1, frames // 10)
    return {
        "static": [(STATIC, frames)],
        "moving": [(MOVING, frames)],
        "10% moving": [
            (STATIC, (frames - crossing) // 2),
            (MOVING, crossing),
            (STATIC, frames - crossing - (frames - crossing) // 2),
        ],
    }


def run_gate(
    phases: list[Phase], scene: SyntheticScene, fps: float, config: VideoConfig
) -> VideoStats:
    """Feed frames through MotionGate on the camera clock; count frames it releases."""
    gate = MotionGate(config)
    index = 0
    for name, count in phases:
        for phase_index in range(count):
            frame = scene.frame(phase_index if name == MOVING else None)
            if gate.admit() and gate.process(frame, index / fps) is not None:
                gate.stats.frames_sent += 1
            index += 1
    return gate.stats


def print_gating(rows: list[GatingRow], config: VideoConfig) -> None:
    print(
        f"\n== detector calls (frame_skip={config.frame_skip}, max_fps={config.max_fps:g}, "
        f"threshold={config.motion_threshold}, area={config.motion_area:g}) =="
    )
    print(
        f"{'scene':<11} {'seen':>6} {'analysed':>8} {'motion':>6} {'calls':>6} {'calls/seen':>10} "
        f"{'ungated':>8} {'fewer vs ungated':>17} {'rate-limit only':>16} {'fewer vs rate-only':>19}"
    )
    for row in rows:
        s = row.stats
        ungated, rate_only = row.ungated_calls(), row.rate_only_calls(config)
        print(
            f"{row.scene:<11} {s.frames_seen:>6} {s.frames_analysed:>8} {s.motion_frames:>6} "
            f"{s.frames_sent:>6} {s.frames_sent / s.frames_seen:>10.3f} {ungated:>8} "
            f"{1 - s.frames_sent / ungated:>16.1%} {rate_only:>16} {1 - s.frames_sent / rate_only:>18.1%}"
        )


def cpu_ms(action: Callable[[int], object], repeats: int) -> float:
    """Mean thread CPU time of action(i) in milliseconds."""
    start = time.thread_time()
    for i in range(repeats):
        action(i)
    return (time.thread_time() - start) * 1000 / repeats


def vp8_decode_ms(frames: list[av.VideoFrame], repeats: int) -> float:
    encoder = av.CodecContext.create("libvpx", "w")
    assert isinstance(encoder, av.video.codeccontext.VideoCodecContext)
    encoder.width, encoder.height = frames[0].width, frames[0].height
    encoder.pix_fmt, encoder.time_base = "yuv420p", fractions.Fraction(1, 90000)
    encoder.bit_rate = 1_000_000
    encoder.options = {"deadline": "realtime", "cpu-used": "8"}  # as a camera would encode
    packets = []
    for i in range(repeats):
        frame = frames[i % len(frames)].reformat(format="yuv420p")
        frame.pts = i * 6000
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    decoder = av.CodecContext.create("vp8", "r")
    start = time.thread_time()
    for packet in packets:
        decoder.decode(packet)
    return (time.thread_time() - start) * 1000 / len(packets)


@dataclass
class CpuRow:
    grey: float
    compare: float
    jpeg: float
    decode: float

    @property
    def motion(self) -> float:
        return self.grey + self.compare


def measure_cpu(width: int, height: int, config: VideoConfig, repeats: int) -> CpuRow:
    """Thread CPU per frame of each step for one input size."""
    scene = SyntheticScene(width, height, noise_sigma=10, square_size=height // 5)
    frames = [scene.frame(i).reformat(format="yuv420p") for i in range(8)]
    greys = [to_analysis_grey(f, config.analysis_width) for f in frames]
    detector = MotionDetector(config.motion_threshold, config.motion_area, config.background_alpha)
    encoder = JpegEncoder(config.jpeg_quality, config.jpeg_max_width)
    few = max(10, repeats // 5)
    return CpuRow(
        grey=cpu_ms(lambda i: to_analysis_grey(frames[i % 8], config.analysis_width), repeats),
        compare=cpu_ms(lambda i: detector.update(greys[i % 8]), repeats),
        jpeg=cpu_ms(lambda i: encoder.encode(frames[i % 8]), few),
        decode=vp8_decode_ms(frames, few),
    )


def print_cpu(config: VideoConfig, fps: float, repeats: int) -> None:
    print(
        f"\n== CPU per frame (thread time, mean of {repeats}; analysis_width={config.analysis_width}) =="
    )
    print(
        f"{'input':>9} {'grey ms':>8} {'compare ms':>10} {'motion ms':>9} {'jpeg ms':>8} "
        f"{'vp8 dec ms':>10} {'motion/decode':>13} {'motion/jpeg':>11} {'core % @fps':>11}"
    )
    analysed_per_s = fps / (config.frame_skip + 1)
    for width, height in ((320, 240), (640, 480), (1280, 720), (1920, 1080)):
        row = measure_cpu(width, height, config, repeats)
        print(
            f"{width:>4}x{height:<4} {row.grey:>8.3f} {row.compare:>10.3f} {row.motion:>9.3f} "
            f"{row.jpeg:>8.2f} {row.decode:>10.2f} {row.motion / row.decode:>13.2f} "
            f"{row.motion / row.jpeg:>11.2f} {row.motion * analysed_per_s / 10:>10.2f}%"
        )
    print(
        f"(core % = motion ms x {analysed_per_s:g} analysed frames/s at {fps:g} fps, "
        f"frame_skip={config.frame_skip}; vp8 dec = FFmpeg decode every received frame costs anyway)"
    )


async def webrtc_run(
    phases: list[Phase], fps: float, config: VideoConfig
) -> tuple[VideoStats, int]:
    """Camera peer -> aiortc loopback -> CameraVideoConsumer -> TCP -> read_frame; (stats, frames read)."""
    received = 0
    served = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        while await read_frame(reader) is not None:
            received += 1
        writer.close()
        served.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    _, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    track = SyntheticCameraTrack(SyntheticScene(320, 240, noise_sigma=10), phases, fps=fps)
    ended = asyncio.Event()
    track.on("ended", ended.set)
    camera = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    gateway = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    consumers: list[CameraVideoConsumer] = []

    @gateway.on("track")
    def on_track(remote: MediaStreamTrack) -> None:
        consumers.append(
            CameraVideoConsumer(remote, "bench_cam", StreamFrameSink(writer), config).start()
        )

    try:
        camera.addTrack(track)
        await camera.setLocalDescription(await camera.createOffer())
        await gateway.setRemoteDescription(
            RTCSessionDescription(camera.localDescription.sdp, "offer")
        )
        await gateway.setLocalDescription(await gateway.createAnswer())
        await camera.setRemoteDescription(
            RTCSessionDescription(gateway.localDescription.sdp, "answer")
        )
        await ended.wait()
        await asyncio.sleep(0.5)
    finally:
        await camera.close()
        await gateway.close()
        for consumer in consumers:
            await consumer.stop()
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(served.wait(), 5)
        server.close()
        await server.wait_closed()
    return consumers[0].stats, received


async def print_webrtc(seconds: float, fps: float, config: VideoConfig) -> None:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only
    frames = round(seconds * fps)
    print(
        f"\n== over a real aiortc loopback call, 320x240 VP8, {fps:g} fps, {seconds:g} s per scene =="
    )
    print(
        f"{'scene':<8} {'seen':>6} {'analysed':>8} {'busy':>5} {'motion':>6} {'sent':>5} {'read':>5} {'calls/seen':>10} {'fewer vs ungated':>17}"
    )
    for name in ("static", "moving"):
        stats, read = await webrtc_run(scenes(frames)[name], fps, config)
        ratio = stats.frames_sent / max(1, stats.frames_seen)
        print(
            f"{name:<8} {stats.frames_seen:>6} {stats.frames_analysed:>8} {stats.frames_busy:>5} "
            f"{stats.motion_frames:>6} {stats.frames_sent:>5} {read:>5} {ratio:>10.3f} {1 - ratio:>16.1%}"
        )


def main() -> None:
    parser = SettingsParser(
        VideoConfig, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    run = parser.add_argument_group("run")
    run.add_argument("--seconds", type=float, default=30.0, help="camera time per scene (part 1)")
    run.add_argument("--fps", type=float, default=15.0, help="camera frame rate")
    run.add_argument("--width", type=int, default=640)
    run.add_argument("--height", type=int, default=480)
    run.add_argument("--noise", type=float, default=10.0, help="sensor noise sigma (grey levels)")
    run.add_argument("--cpu-repeats", type=int, default=200)
    run.add_argument("--webrtc-seconds", type=float, default=8.0, help="0 skips part 3")
    args = parser.parse_args()
    config = parser.settings_from(args)
    logging.basicConfig(level=logging.WARNING)

    frames = round(args.seconds * args.fps)
    print(
        f"input: {args.width}x{args.height} at {args.fps:g} fps, {args.seconds:g} s per scene, noise sigma {args.noise:g}"
    )
    rows = []
    for name, phases in scenes(frames).items():
        scene = SyntheticScene(
            args.width, args.height, noise_sigma=args.noise, square_size=args.height // 5
        )
        rows.append(GatingRow(name, run_gate(phases, scene, args.fps, config), args.seconds))
    print_gating(rows, config)
    print_cpu(config, args.fps, args.cpu_repeats)
    if args.webrtc_seconds > 0:
        asyncio.run(print_webrtc(args.webrtc_seconds, args.fps, config))


if __name__ == "__main__":
    main()
