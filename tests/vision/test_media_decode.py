"""Decoding uploads: every supported format works, every bad input is a clear MediaError."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from wyoming_bridge.vision.media_decode import (
    MediaError,
    decode_audio,
    decode_base64,
    decode_image,
    sample_video,
)

from .conftest import to_bgr
from .media_files import encode_audio, encode_video, image_bytes, png_bomb


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_images_decode(fmt: str, photos) -> None:
    image = decode_image(image_bytes(to_bgr(photos["zidane.jpg"]), fmt), 10_000_000)
    assert (image.width, image.height) == (1280, 720)
    assert image.bgr.shape == (720, 1280, 3)
    assert image.format == fmt.lower()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xff\xd8\xff\xe0 truncated jpeg", "corrupt"),
        (b"hello, not an image", "corrupt"),
        (png_bomb(), "too_many_pixels"),
        (image_bytes(np.zeros((8, 8, 3), np.uint8), "GIF"), "unsupported_format"),
    ],
    ids=["truncated", "garbage", "decompression-bomb", "gif"],
)
def test_bad_images_are_rejected(data: bytes, code: str) -> None:
    with pytest.raises(MediaError) as err:
        decode_image(data, 40_000_000)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("data", "code"),
    [("not base64!!", "invalid_base64"), ("", "invalid_base64"), (None, "invalid_base64"),
     ("A" * 4000, "too_large")],
)  # fmt: skip
def test_bad_base64(data: object, code: str) -> None:
    with pytest.raises(MediaError) as err:
        decode_base64(data, 1000)
    assert err.value.code == code


def test_data_uri_prefix_is_accepted() -> None:
    assert decode_base64("data:image/png;base64," + base64.b64encode(b"xyz").decode(), 10) == b"xyz"


@pytest.mark.parametrize("fmt", ["wav", "ogg", "mp3"])
def test_audio_formats_decode_to_16k(fmt: str, speech) -> None:
    pcm = speech("what is on my desk", 22050)
    out = decode_audio(encode_audio(pcm, 22050, fmt), 60)
    assert out.dtype == np.int16
    assert abs(len(out) / 16000 - len(pcm) / 22050) < 0.15  # codec padding only
    assert np.abs(out).max() > 3000  # speech, not silence


def test_audio_too_long(speech) -> None:
    pcm = speech("one two three four five six", 16000)
    with pytest.raises(MediaError) as err:
        decode_audio(encode_audio(pcm, 16000, "wav"), 0.5)
    assert err.value.code == "too_long"


def test_audio_corrupt() -> None:
    with pytest.raises(MediaError) as err:
        decode_audio(b"RIFF\x00\x00\x00\x00WAVEjunk", 60)
    assert err.value.code in ("corrupt", "unsupported_format")


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_video_frames_sampled(fmt: str, photos) -> None:
    bus = to_bgr(photos["bus.jpg"])[:, :, :]
    dark = np.zeros_like(bus)
    clip = encode_video([dark, dark, bus, bus, bus, bus, dark, dark], fmt, fps=2)  # 4 s
    frames = sample_video(clip, 4, 40_000_000, 60)
    assert len(frames) == 4
    times = [t for t, _ in frames]
    assert times == sorted(times) and times[-1] <= 4.0
    bright = [float(bgr.mean()) > 30 for _, bgr in frames]
    assert bright == [False, True, True, False]


def test_video_rejected_when_too_long_or_corrupt(photos) -> None:
    bus = to_bgr(photos["bus.jpg"])
    clip = encode_video([bus] * 6, "mp4", fps=2)
    with pytest.raises(MediaError) as err:
        sample_video(clip, 4, 40_000_000, 1.0)
    assert err.value.code == "too_long"
    with pytest.raises(MediaError) as err:
        sample_video(clip[: len(clip) // 3], 4, 40_000_000, 60)
    assert err.value.code == "corrupt"
