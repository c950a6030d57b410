"""JPEG encoding with FFmpeg's mjpeg encoder (PyAV), no PIL or OpenCV on the gateway."""

from __future__ import annotations

import fractions

import av
from av.codec.context import CodecContext
from av.video.codeccontext import VideoCodecContext

_JPEG_PIX_FMT = "yuvj420p"
_BEST_QSCALE, _WORST_QSCALE = 2, 31


def quality_to_qscale(quality: int) -> int:
    """Map JPEG quality 1-100 to FFmpeg's qscale 31-2 (lower qscale is better)."""
    quality = min(100, max(1, quality))
    span = _WORST_QSCALE - _BEST_QSCALE
    return round(_BEST_QSCALE + (100 - quality) * span / 99)


def output_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Encoded size: frames wider than max_width (if > 0) are scaled down, aspect ratio kept."""
    if max_width and width > max_width:
        return max_width, max(1, round(height * max_width / width))
    return width, height


class JpegEncoder:
    """Encodes av.VideoFrames to JPEG bytes; one encoder per camera, one frame at a time."""

    def __init__(self, quality: int = 80, max_width: int = 0) -> None:
        self.quality = quality
        self.max_width = max_width
        self._codec: VideoCodecContext | None = None

    def _context(self, width: int, height: int) -> VideoCodecContext:
        codec = self._codec
        if codec is None or (codec.width, codec.height) != (width, height):
            codec = CodecContext.create("mjpeg", "w")
            assert isinstance(codec, VideoCodecContext)
            codec.width, codec.height = width, height
            codec.pix_fmt = _JPEG_PIX_FMT
            codec.time_base = fractions.Fraction(1, 90000)
            codec.qmin = codec.qmax = quality_to_qscale(self.quality)
            self._codec = codec
        return codec

    def encode(self, frame: av.VideoFrame) -> bytes:
        """One JPEG (baseline, 4:2:0) of the frame, scaled down to max_width if wider."""
        width, height = output_size(frame.width, frame.height, self.max_width)
        codec = self._context(width, height)
        image = frame.reformat(width=width, height=height, format=_JPEG_PIX_FMT)
        image.pts = None
        return b"".join(bytes(packet) for packet in codec.encode(image))
