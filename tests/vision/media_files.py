"""Encode real media files (WAV, Ogg/Opus, MP3, MP4, WebM, PNG bombs) for upload tests."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
from PIL import Image


def encode_audio(pcm: np.ndarray, rate: int, fmt: str) -> bytes:
    """int16 mono PCM -> 'wav', 'ogg' (Opus) or 'mp3' file bytes, encoded with PyAV."""
    codec, container_fmt, out_rate = {
        "wav": ("pcm_s16le", "wav", rate),
        "ogg": ("libopus", "ogg", 48000),
        "mp3": ("libmp3lame", "mp3", 44100),
    }[fmt]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container_fmt) as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=out_rate)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        frames = [*resampler.resample(frame), *resampler.resample(None)]
        for out in frames:
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def encode_video(frames: list[np.ndarray], fmt: str = "mp4", fps: int = 2) -> bytes:
    """BGR frames -> MP4 (H.264) or WebM (VP8)."""
    codec = {"mp4": "libx264", "webm": "libvpx"}[fmt]
    height, width = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, bgr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(bgr[: stream.height, : stream.width]), format="bgr24"
            )
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def png_bomb(side: int = 20000) -> bytes:
    """A tiny PNG that would decode to side x side pixels."""
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def image_bytes(bgr: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(bgr[:, :, ::-1]).save(buf, format=fmt)
    return buf.getvalue()
