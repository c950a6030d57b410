"""Safe decoding of uploaded media: base64, images (no decompression bombs), audio, video."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import av
import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

STT_SAMPLE_RATE = 16000
IMAGE_FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
AUDIO_CONTAINERS = {"wav": "wav", "ogg": "ogg", "mp3": "mp3"}
VIDEO_CONTAINERS = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm")


class MediaError(Exception):
    """Rejected input; `code` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class DecodedImage:
    bgr: np.ndarray
    format: str
    width: int
    height: int


def decode_base64(data: object, max_bytes: int) -> bytes:
    """Strict base64 (a `data:...;base64,` prefix is allowed); size checked before decoding."""
    if not isinstance(data, str) or not data:
        raise MediaError("invalid_base64", "'data' must be a non-empty base64 string")
    if data.startswith("data:"):
        data = data.partition(",")[2]
    if len(data) * 3 // 4 > max_bytes:
        raise MediaError("too_large", f"media is larger than {max_bytes} bytes")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise MediaError("invalid_base64", f"'data' is not valid base64: {err}") from err
    if not raw:
        raise MediaError("invalid_base64", "'data' decodes to nothing")
    return raw


def decode_image(raw: bytes, max_pixels: int) -> DecodedImage:
    """JPEG, PNG or WebP to BGR; the pixel count is checked from the header before decoding."""
    try:
        with Image.open(io.BytesIO(raw)) as img:
            fmt = IMAGE_FORMATS.get(img.format or "")
            if fmt is None:
                raise MediaError("unsupported_format", f"image format {img.format} not supported")
            width, height = img.size
            if width * height > max_pixels:
                raise MediaError("too_many_pixels", f"{width}x{height} exceeds {max_pixels} pixels")
            rgb = np.asarray(img.convert("RGB"))
    except MediaError:
        raise
    except Image.DecompressionBombError as err:
        raise MediaError("too_many_pixels", str(err)) from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise MediaError("corrupt", f"image cannot be decoded: {err}") from err
    return DecodedImage(np.ascontiguousarray(rgb[:, :, ::-1]), fmt, width, height)


def decode_audio(raw: bytes, max_seconds: float) -> np.ndarray:
    """WAV, Ogg/Opus or MP3 to 16 kHz mono int16 PCM (what STT wants)."""
    limit = int(max_seconds * STT_SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(io.BytesIO(raw), mode="r") as container:
            if container.format.name.split(",")[0] not in AUDIO_CONTAINERS:
                raise MediaError(
                    "unsupported_format", f"audio container {container.format.name} not supported"
                )
            if not container.streams.audio:
                raise MediaError("corrupt", "no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=STT_SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1)
                    total += len(pcm)
                    if total > limit:
                        raise MediaError("too_long", f"audio is longer than {max_seconds:g} s")
                    chunks.append(pcm)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as err:
        raise MediaError("corrupt", f"audio cannot be decoded: {err}") from err
    if not chunks:
        raise MediaError("corrupt", "audio has no samples")
    return np.concatenate(chunks).astype(np.int16)


def sample_video(
    raw: bytes, frames: int, max_pixels: int, max_seconds: float
) -> list[tuple[float, np.ndarray]]:
    """Up to `frames` BGR frames spread over an MP4/WebM clip, as (seconds, image)."""
    picked: list[tuple[float, np.ndarray]] = []
    try:
        with av.open(io.BytesIO(raw), mode="r") as container:
            if container.format.name not in VIDEO_CONTAINERS:
                raise MediaError(
                    "unsupported_format", f"video container {container.format.name} not supported"
                )
            if not container.streams.video:
                raise MediaError("corrupt", "no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            if ctx.width * ctx.height > max_pixels:
                raise MediaError("too_many_pixels", f"{ctx.width}x{ctx.height} video frames")
            duration = (
                float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base
                else None
            )
            if duration is not None and duration > max_seconds:
                raise MediaError("too_long", f"video is longer than {max_seconds:g} s")
            span = duration if duration else float(frames)
            targets = [span * (i + 0.5) / frames for i in range(frames)]
            for frame in container.decode(video=0):
                t = float(frame.time or 0.0)
                if t > max_seconds:
                    raise MediaError("too_long", f"video is longer than {max_seconds:g} s")
                if targets and t >= targets[0] - 1e-6:
                    picked.append((t, frame.to_ndarray(format="bgr24")))
                    while targets and t >= targets[0] - 1e-6:
                        targets.pop(0)
                if not targets:
                    break
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as err:
        raise MediaError("corrupt", f"video cannot be decoded: {err}") from err
    if not picked:
        raise MediaError("corrupt", "video has no frames")
    return picked


def encode_jpeg(bgr: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaError("internal", "JPEG encoding failed")
    return bytes(buf)
