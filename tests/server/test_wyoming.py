"""Every Wyoming event type this server handles, through the `wyoming` client library."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncTcpServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from wyoming_bridge import app
from wyoming_bridge.app import NailaServer, bound_port

Speech = Callable[[str, int], np.ndarray]
EVENT_TIMEOUT_S = 60


@pytest.fixture
async def client(server: NailaServer) -> AsyncIterator[AsyncTcpClient]:
    async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as connected:
        yield connected


async def next_event(client: AsyncTcpClient) -> Event:
    event = await asyncio.wait_for(client.read_event(), EVENT_TIMEOUT_S)
    assert event is not None, "server closed the connection"
    return event


async def read_audio(
    client: AsyncTcpClient, until: Callable[[Event], bool]
) -> tuple[AudioStart, bytes, list[str]]:
    """Collect audio up to the event `until` accepts; returns start, PCM and event types seen."""
    start: AudioStart | None = None
    audio = bytearray()
    types: list[str] = []
    while True:
        event = await next_event(client)
        types.append(event.type)
        if AudioStart.is_type(event.type):
            start = start or AudioStart.from_event(event)
        elif AudioChunk.is_type(event.type):
            audio += AudioChunk.from_event(event).audio
        if until(event):
            assert start is not None
            return start, bytes(audio), types


async def test_describe_advertises_asr_tts_and_handle(client: AsyncTcpClient) -> None:
    await client.write_event(Describe().event())
    info = Info.from_event(await next_event(client))
    assert info.asr and info.asr[0].installed and "en" in info.asr[0].models[0].languages
    assert info.tts and info.tts[0].supports_synthesize_streaming and info.tts[0].voices
    assert info.handle and info.handle[0].models


async def test_ping_pong(client: AsyncTcpClient) -> None:
    await client.write_event(Ping(text="hi").event())
    assert Pong.is_type((await next_event(client)).type)


async def test_transcribe_audio_stream(client: AsyncTcpClient, speech: Speech) -> None:
    pcm = speech("turn on the kitchen lights", 16000).astype("<i2").tobytes()
    await client.write_event(Transcribe(language="en").event())
    await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
    for offset in range(0, len(pcm), 2048):
        await client.write_event(
            AudioChunk(rate=16000, width=2, channels=1, audio=pcm[offset : offset + 2048]).event()
        )
    await client.write_event(AudioStop().event())
    transcript = Transcript.from_event(await next_event(client))
    assert "kitchen lights" in transcript.text.lower()


async def test_synthesize(client: AsyncTcpClient, server: NailaServer) -> None:
    await client.write_event(Synthesize(text="Good morning. The coffee is ready.").event())
    start, audio, types = await read_audio(client, lambda e: AudioStop.is_type(e.type))
    assert start.rate == server.pipeline.tts_rate and start.width == 2 and start.channels == 1  # type: ignore[union-attr]
    assert len(audio) > start.rate * 2 * 0.8
    assert types[0] == "audio-start" and types[-1] == "audio-stop"


async def test_synthesize_streaming(client: AsyncTcpClient) -> None:
    await client.write_event(SynthesizeStart().event())
    for piece in ["The garage door ", "is closed. ", "Have a ", "nice day."]:
        await client.write_event(SynthesizeChunk(text=piece).event())
    # Sent for compatibility inside a stream; must not be spoken twice.
    await client.write_event(Synthesize(text="The garage door is closed. Have a nice day.").event())
    await client.write_event(SynthesizeStop().event())
    _start, audio, types = await read_audio(client, lambda e: SynthesizeStopped.is_type(e.type))
    assert types.count("audio-start") == 1 and types.count("audio-stop") == 1
    assert types[-2:] == ["audio-stop", "synthesize-stopped"]
    assert len(audio) > 22050 * 2 * 1.0


async def test_transcript_is_handled_by_the_llm(client: AsyncTcpClient) -> None:
    await client.write_event(
        Transcript(text="What can you do?", context={"conversation_id": "c1"}).event()
    )
    handled = Handled.from_event(await next_event(client))
    assert handled.text and handled.context == {"conversation_id": "c1"}


async def test_bad_event_order_answers_error(client: AsyncTcpClient) -> None:
    await client.write_event(SynthesizeChunk(text="orphan").event())
    error = Error.from_event(await next_event(client))
    assert "synthesize-start" in error.text
    await client.write_event(Ping().event())  # the connection is still usable
    assert Pong.is_type((await next_event(client)).type)


def test_bound_port_is_read_only_on_checked_wyoming_releases(
    server: NailaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(server.wyoming, AsyncTcpServer)
    assert bound_port(server.wyoming) == server.wyoming_port > 0
    monkeypatch.setattr(app, "version", lambda _name: "2.0.0")
    with pytest.raises(RuntimeError, match=r"wyoming 2\.0\.0"):
        bound_port(server.wyoming)
