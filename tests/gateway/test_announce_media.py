"""Announcements of a media_url: a real HTTP server on 127.0.0.1 serves WAV, MP3 and OGG made
here; the gateway fetches, decodes and plays them on the device, the chime first, and says
`announced` once they played. Bad media (unreachable, not audio, too large, truncated, too long,
too slow) is an `error` event naming why, and another device is not held up meanwhile."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from collections.abc import AsyncIterator

import av
import numpy as np
import pytest
from aiohttp import web

from naila_gateway.media import MediaSettings, decode
from naila_sim import SimDevice
from tests.helpers import wait_until

RATE = 22050
TONE_HZ = 300.0
SECONDS = 1.6


def tone(seconds: float, rate: int = RATE, frequency: float = TONE_HZ) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * frequency * t) * 9000).astype(np.int16)


def wav_bytes(samples: np.ndarray, rate: int = RATE, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(samples, channels).tobytes())
    return buffer.getvalue()


def encoded(samples: np.ndarray, container: str, codec: str, rate: int = 44100) -> bytes:
    """`samples` (at RATE) encoded by FFmpeg through PyAV, e.g. ('mp3', 'libmp3lame')."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        # FFmpeg's own Vorbis encoder is flagged experimental (PyAV's wheels have no libvorbis)
        options = {"strict": "experimental"} if codec == "vorbis" else {}
        stream = out.add_stream(codec, rate=rate, layout="stereo", options=options)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(samples, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = RATE
        resampler = av.AudioResampler(format=stream.format.name, layout="stereo", rate=rate)
        for part in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(part):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def dominant_hz(samples: np.ndarray, rate: int = 48000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / samples.size)


class MediaSite:
    """aiohttp on 127.0.0.1: `url(name)` for each file; also broken answers of each kind."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.requests: list[str] = []
        self.release = asyncio.Event()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/truncated.wav", self._truncated)
        app.router.add_get("/{name}", self._file)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        self.release.set()
        assert self.runner is not None
        await self.runner.cleanup()

    async def _file(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        body, content_type = self.files.get(request.match_info["name"], (b"", ""))
        if not content_type:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type=content_type)

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        await self.release.wait()
        return web.Response(body=b"", content_type="audio/wav")

    async def _truncated(self, request: web.Request) -> web.StreamResponse:
        """Announces a whole WAV, sends half of it, then closes the connection."""
        self.requests.append(request.path)
        body = wav_bytes(tone(SECONDS))
        response = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        assert request.transport is not None
        request.transport.close()
        return response


@pytest.fixture
async def site() -> AsyncIterator[MediaSite]:
    media = MediaSite()
    media.files = {
        "speech.wav": (wav_bytes(tone(SECONDS)), "audio/wav"),
        "stereo.wav": (wav_bytes(tone(SECONDS), channels=2), "audio/wav"),
        "speech.mp3": (encoded(tone(SECONDS), "mp3", "libmp3lame"), "audio/mpeg"),
        "speech.ogg": (encoded(tone(SECONDS), "ogg", "vorbis"), "audio/ogg"),
        "speech.opus": (encoded(tone(SECONDS), "ogg", "libopus", 48000), "audio/ogg"),
        "page.html": (b"<!doctype html><html><body>Not found</body></html>", "text/html"),
        "noise.bin": (np.random.default_rng(1).bytes(40_000), "audio/mpeg"),
        "big.wav": (wav_bytes(tone(12.0)), "audio/wav"),
        "long.wav": (wav_bytes(tone(5.0, rate=8000), rate=8000), "audio/wav"),
        "header.wav": (wav_bytes(tone(SECONDS))[:60], "audio/wav"),
        "half.wav": (wav_bytes(tone(SECONDS))[: len(wav_bytes(tone(SECONDS))) // 2], "audio/wav"),
        "half.opus": (encoded(tone(SECONDS), "ogg", "libopus", 48000)[:9000], "audio/ogg"),
    }
    await media.start()
    yield media
    await media.stop()


async def announce(device: SimDevice, request_id: str, url: str, **fields: str) -> None:
    command = {"command": "announce", "request_id": request_id, "media_url": url, **fields}
    await device.publish_raw("command", json.dumps(command).encode())


def media_settings(**overrides: float) -> MediaSettings:
    return MediaSettings(
        **{"timeout_s": 3.0, "max_bytes": 300_000, "max_seconds": 4.0, **overrides}
    )


@pytest.mark.parametrize(
    "name", ["speech.wav", "stereo.wav", "speech.mp3", "speech.ogg", "speech.opus"]
)
async def test_media_is_heard_then_announced(
    make_gateway, make_device, reply_server, site: MediaSite, name: str
) -> None:
    await make_gateway(ai_server_port=reply_server.port, media=media_settings())
    device = await make_device("porch")
    await device.wait_connected()
    mark = device.recorder.mark()
    before = len(device.events)

    await announce(device, "ann_media", site.url(name), message="Doorbell")

    start = await device.recorder.wait_voiced(mark, within=15)
    announced = await device.wait_event("announced", request_id="ann_media", within=30)
    heard_by_then = device.recorder.voiced_seconds(start)
    end = await device.recorder.wait_quiet(start)
    heard = device.recorder.audio(start, end)
    assert SECONDS - 0.1 <= device.recorder.voiced_seconds(start, end) <= SECONDS + 0.2
    assert abs(dominant_hz(heard) - TONE_HZ) < 10
    # `announced` comes at the end of playback, not at its first frame
    assert heard_by_then >= SECONDS / 2, (heard_by_then, announced)
    assert not reply_server.received  # nothing went to the AI server
    assert not [e for e in device.events[before:] if e.get("event") == "error"]
    assert site.requests == [f"/{name}"]


async def test_the_chime_plays_first(
    make_gateway, make_device, reply_server, site: MediaSite
) -> None:
    await make_gateway(ai_server_port=reply_server.port, media=media_settings())
    device = await make_device("porch")
    await device.wait_connected()
    mark = device.recorder.mark()

    await announce(device, "ann_chime", site.url("speech.wav"), sound="chime")

    start = await device.recorder.wait_voiced(mark, within=15)
    await device.wait_event("announced", request_id="ann_chime", within=30)
    end = await device.recorder.wait_quiet(start)
    heard = device.recorder.audio(start, end)
    assert abs(dominant_hz(heard[: int(0.1 * 48000)]) - 660) < 15  # the chime's first note
    assert abs(dominant_hz(heard[-int(0.5 * 48000) :]) - TONE_HZ) < 10  # then the media
    assert device.recorder.voiced_seconds(start, end) >= SECONDS + 0.3


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("missing.mp3", "media_unreachable", "HTTP 404"),
        ("page.html", "media_not_audio", "not an audio file"),
        ("noise.bin", "media_not_audio", ""),
        ("header.wav", "media_not_audio", ""),
        ("big.wav", "media_too_large", "the limit is 300000 bytes"),
        ("truncated.wav", "media_truncated", "ended early"),
        ("half.wav", "media_truncated", "the file announces 1.60 s"),
        ("half.opus", "media_truncated", ""),
        ("long.wav", "media_too_long", "limit of 4 s"),
        ("slow", "media_timeout", "within 3 s"),
    ],
)
async def test_bad_media_is_an_error_event(
    make_gateway, make_device, reply_server, site: MediaSite, name: str, code: str, words: str
) -> None:
    await make_gateway(ai_server_port=reply_server.port, media=media_settings())
    device = await make_device("porch")
    await device.wait_connected()
    mark = device.recorder.mark()

    await announce(device, "ann_bad", site.url(name))

    error = await device.wait_event("error", request_id="ann_bad", within=30)
    assert error["code"] == code, error
    assert words in error["message"], error
    assert not [e for e in device.events if e.get("event") == "announced"]
    assert device.recorder.first_voiced(mark) is None
    await device.wait_event("state", state="idle", since=device.events.index(error))


async def test_an_unreachable_host_is_an_error_event(
    make_gateway, make_device, reply_server
) -> None:
    await make_gateway(ai_server_port=reply_server.port, media=media_settings())
    device = await make_device("porch")
    await device.wait_connected()
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()

    await announce(device, "ann_refused", f"http://127.0.0.1:{port}/a.mp3")

    error = await device.wait_event("error", request_id="ann_refused", within=30)
    assert error["code"] == "media_unreachable", error
    assert "ClientConnectorError" in error["message"], error


async def test_other_devices_are_not_held_up_and_stop_cancels_a_download(
    make_gateway, make_device, reply_server, site: MediaSite
) -> None:
    await make_gateway(ai_server_port=reply_server.port, media=media_settings(timeout_s=60.0))
    porch = await make_device("porch")
    hall = await make_device("hall")
    await porch.wait_connected()
    await hall.wait_connected()

    await announce(porch, "ann_slow", site.url("slow"))
    await wait_until(lambda: "/slow" in site.requests)  # the server's own list
    await porch.wait_event("state", state="processing")
    mark = hall.recorder.mark()
    await announce(hall, "ann_hall", site.url("speech.wav"))
    await hall.wait_event("announced", request_id="ann_hall", within=30)
    assert hall.recorder.voiced_seconds(mark) > 0
    # and the porch's own next command is not stuck behind its download
    await porch.publish_raw("command", b'{"command": "stop"}')
    interrupted = await porch.wait_event("interrupted", request_id="ann_slow", within=10)
    assert interrupted["reason"] == "stop"
    await porch.wait_event("state", state="idle", since=porch.events.index(interrupted))
    site.release.set()
    await asyncio.sleep(0)
    assert not [e for e in porch.events if e.get("event") in ("announced", "error")]


def test_decode_reads_each_format_at_48k_mono() -> None:
    samples = decode(wav_bytes(tone(1.0, rate=16000), rate=16000), 10.0)
    assert samples.dtype == np.int16 and abs(samples.size - 48000) < 200
    assert abs(dominant_hz(samples) - TONE_HZ) < 5
