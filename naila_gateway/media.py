"""Announcement media: a command's `media_url` fetched over HTTP(S) within a size limit and a
timeout, then decoded off the event loop with PyAV (FFmpeg) to the 48 kHz mono int16 a device
plays. Every failure is a `MediaError` whose `code` is the `error` event's code (docs/mqtt.md
"Commands")."""

from __future__ import annotations

import asyncio
import errno
import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp
import av
import av.error
import av.filter
import av.stream
import numpy as np

from naila_gateway.pcm import WEBRTC_RATE
from naila_protocol.commands import (
    DEFAULT_MEDIA_MAX_BYTES,
    DEFAULT_MEDIA_MAX_SECONDS,
    DEFAULT_MEDIA_TIMEOUT,
)
from naila_protocol.settings import load_settings, setting
from naila_protocol.tasks import TaskSet

_GROUP = "Announcement media"
_CHUNK_BYTES = 64 * 1024

MEDIA_UNREACHABLE = "media_unreachable"
"""The URL could not be fetched: connection refused, name unknown, or an HTTP error status."""
MEDIA_TIMEOUT = "media_timeout"
MEDIA_TOO_LARGE = "media_too_large"
MEDIA_TRUNCATED = "media_truncated"
"""The body ended before its announced length, or the audio stopped mid-stream."""
MEDIA_NOT_AUDIO = "media_not_audio"
MEDIA_TOO_LONG = "media_too_long"


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """MEDIA_* settings: limits on what an announcement's `media_url` may bring."""

    timeout_s: float = setting(
        DEFAULT_MEDIA_TIMEOUT,
        env="MEDIA_TIMEOUT",
        flag="--media-timeout",
        group=_GROUP,
        help="seconds to fetch an announcement's media_url (connection and whole body)",
    )
    max_bytes: int = setting(
        DEFAULT_MEDIA_MAX_BYTES,
        env="MEDIA_MAX_BYTES",
        flag="--media-max-bytes",
        group=_GROUP,
        help="largest media_url body downloaded",
    )
    max_seconds: float = setting(
        DEFAULT_MEDIA_MAX_SECONDS,
        env="MEDIA_MAX_SECONDS",
        flag="--media-max-seconds",
        group=_GROUP,
        help="longest media_url audio played (must fit AUDIO_OUTPUT_BUFFER_SECONDS)",
    )

    def validate(self) -> None:
        if self.timeout_s <= 0 or self.max_bytes < 1024 or self.max_seconds <= 0:
            raise ValueError(
                "MEDIA_TIMEOUT must be > 0, MEDIA_MAX_BYTES >= 1024, MEDIA_MAX_SECONDS > 0"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MediaSettings:
        return load_settings(cls, environ)


class MediaError(Exception):
    """Media that cannot be played; `code` names why (the device's `error` event code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def fetch(url: str, settings: MediaSettings) -> bytes:
    """The body of `url`, at most `settings.max_bytes`, within `settings.timeout_s`."""
    timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers={"Accept": "audio/*"}) as response,
        ):
            if response.status >= 400:
                raise MediaError(MEDIA_UNREACHABLE, f"HTTP {response.status} {response.reason}")
            length = response.content_length
            if length is not None and length > settings.max_bytes:
                raise MediaError(MEDIA_TOO_LARGE, _too_large(length, settings.max_bytes))
            body = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                body += chunk
                if len(body) > settings.max_bytes:
                    raise MediaError(MEDIA_TOO_LARGE, _too_large(None, settings.max_bytes))
            return bytes(body)
    except TimeoutError:
        raise MediaError(
            MEDIA_TIMEOUT, f"no complete answer within {settings.timeout_s:g} s"
        ) from None
    except aiohttp.ClientPayloadError as err:
        raise MediaError(MEDIA_TRUNCATED, f"the download ended early: {err}") from None
    except aiohttp.ClientError as err:
        raise MediaError(MEDIA_UNREACHABLE, f"{type(err).__name__}: {err}") from None


def _too_large(length: int | None, limit: int) -> str:
    size = f"{length} bytes" if length is not None else "more"
    return f"the file has {size}, the limit is {limit} bytes"


def decode(data: bytes, max_seconds: float) -> np.ndarray:
    """Decode any FFmpeg audio format to 48 kHz mono int16 (blocking: run it in a thread)."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except av.error.EOFError:
        raise MediaError(
            MEDIA_TRUNCATED, "the file ends before FFmpeg could read its format"
        ) from None
    except av.FFmpegError as err:
        raise MediaError(MEDIA_NOT_AUDIO, f"not an audio file ({_reason(err)})") from None
    with container:
        if not container.streams.audio:
            raise MediaError(MEDIA_NOT_AUDIO, "the file has no audio stream")
        stream = container.streams.audio[0]
        stream.codec_context.thread_count = 1
        converter = _Converter(round(max_seconds * WEBRTC_RATE), max_seconds)
        try:
            for frame in container.decode(stream):
                converter.push(frame)
            converter.push(None)
        except av.FFmpegError as err:
            raise MediaError(MEDIA_TRUNCATED, f"the audio broke off ({_reason(err)})") from None
        expected = _wav_seconds(data) or _expected_seconds(stream)
    samples = converter.samples()
    if not samples.size:
        raise MediaError(MEDIA_NOT_AUDIO, "the file holds no audio samples")
    if expected is not None and samples.size < 0.9 * expected * WEBRTC_RATE:
        raise MediaError(
            MEDIA_TRUNCATED,
            f"{samples.size / WEBRTC_RATE:.2f} s of audio, the file announces {expected:.2f} s",
        )
    return samples


class _Converter:
    """Decoded frames (any sample format, layout, rate) -> 48 kHz mono int16, up to a limit.

    A single-threaded FFmpeg filter graph (see naila_gateway/pcm.py on why single-threaded),
    built from the first frame's format."""

    def __init__(self, limit: int, max_seconds: float) -> None:
        self._limit = limit
        self._max_seconds = max_seconds
        self._graph: av.filter.Graph | None = None
        self._parts: list[np.ndarray] = []
        self._total = 0

    def push(self, frame: av.AudioFrame | None) -> None:
        if self._graph is None:
            if frame is None:
                return
            self._graph = _graph_for(frame)
        self._graph.push(frame)
        while True:
            try:
                out = self._graph.pull()
            except (EOFError, BlockingIOError):
                break
            except av.FFmpegError as err:
                if err.errno != errno.EAGAIN:
                    raise
                break
            self._parts.append(out.to_ndarray().reshape(-1))
            self._total += self._parts[-1].size
        if self._total > self._limit:
            raise MediaError(
                MEDIA_TOO_LONG, f"the audio is longer than the limit of {self._max_seconds:g} s"
            )

    def samples(self) -> np.ndarray:
        return np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.int16)


def _graph_for(frame: av.AudioFrame) -> av.filter.Graph:
    graph = av.filter.Graph()
    graph.threads = 1
    source = graph.add(
        "abuffer",
        sample_rate=str(frame.sample_rate),
        sample_fmt=frame.format.name,
        channel_layout=frame.layout.name,
    )
    convert = graph.add(
        "aformat", sample_rates=str(WEBRTC_RATE), sample_fmts="s16", channel_layouts="mono"
    )
    sink = graph.add("abuffersink")
    source.link_to(convert)
    convert.link_to(sink)
    graph.configure()
    return graph


def _reason(err: av.FFmpegError) -> str:
    return str(err.strerror or err)


def _expected_seconds(stream: av.stream.Stream) -> float | None:
    """The duration the container states (MP3's Xing header, an OGG's last page, ...)."""
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _wav_seconds(data: bytes) -> float | None:
    """The duration a RIFF/WAVE header declares (FFmpeg reports what the file holds instead).

    None when it is not a WAV or its data size is unknown (0 or 0xFFFFFFFF: a stream)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(data):
        chunk, size = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "little"),
        )
        if chunk == b"fmt " and offset + 16 <= len(data):
            byte_rate = int.from_bytes(data[offset + 16 : offset + 20], "little")
        elif chunk == b"data":
            known = byte_rate and size not in (0, 0xFFFFFFFF)
            return size / byte_rate if known else None
        offset += 8 + size + (size & 1)
    return None


MediaDone = Callable[[str, "np.ndarray | MediaError"], None]
"""on_done(request_id, samples or the error)."""


class MediaLoader:
    """One device's media downloads: fetched and decoded in owned tasks, cancelled on stop."""

    def __init__(self, settings: MediaSettings, logger: logging.Logger) -> None:
        self.settings = settings
        self._tasks = TaskSet(logger)
        self._by_request: dict[str, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        return len(self._by_request)

    def load(self, url: str, request_id: str, on_done: MediaDone) -> None:
        """Fetch and decode `url`; `on_done` gets the samples or the MediaError."""
        task = self._tasks.spawn(self._load(url, request_id, on_done), name=f"media {request_id}")
        self._by_request[request_id] = task
        task.add_done_callback(lambda _: self._by_request.pop(request_id, None))

    async def _load(self, url: str, request_id: str, on_done: MediaDone) -> None:
        try:
            data = await fetch(url, self.settings)
            samples = await asyncio.to_thread(decode, data, self.settings.max_seconds)
        except MediaError as err:
            on_done(request_id, err)
            return
        on_done(request_id, samples)

    async def cancel(self) -> None:
        """Drop every download in progress (barge-in, stop, the session closes)."""
        await self._tasks.close()
