"""Gateway audio socket with real models: basic, streamed, chunked, cancelled, multiplexed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np
import pytest

from naila_protocol.framing import Frame, FrameKind
from tests.server.conftest import ServerFactory
from tests.server.wire import Gateway, connect, pcm_bytes, silence
from wyoming_bridge.app import NailaServer, ServerSettings
from wyoming_bridge.speculative import SpeculationMode, SpeculationSettings

Speech = Callable[[str, int], np.ndarray]
KITCHEN = "turn on the kitchen lights"


def words_in(text: str, spoken: str) -> bool:
    heard = "".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace()).split()
    return all(word in heard for word in spoken.split())


async def test_basic_frame_round_trip_at_48k(server: NailaServer, speech: Speech) -> None:
    pcm = pcm_bytes(speech(KITCHEN, 48000))
    async with connect(server.port) as gateway:
        await gateway.send(Frame("living_room", 48000, "req_abc123", payload=pcm))
        reply = await gateway.frame()
    assert reply is not None and reply.kind is FrameKind.BASIC
    assert (reply.device_id, reply.request_id, reply.sample_rate) == (
        "living_room",
        "req_abc123",
        48000,
    )
    assert len(reply.payload) > 48000 * 2 * 0.3  # at least 0.3 s of speech at 48 kHz
    samples = np.frombuffer(reply.payload, "<i2")
    assert np.abs(samples).max() > 1000


async def test_basic_frame_with_silence_gets_empty_reply(server: NailaServer) -> None:
    async with connect(server.port) as gateway:
        await gateway.send(Frame("hall", 16000, "quiet1", payload=silence(1.0, 16000)))
        reply = await gateway.frame()
    assert reply is not None and reply.kind is FrameKind.BASIC
    assert (reply.request_id, reply.payload) == ("quiet1", b"")


async def test_stream_request_gets_audio_frames_then_end(
    server: NailaServer, speech: Speech
) -> None:
    pcm = pcm_bytes(speech(KITCHEN, 16000))
    async with connect(server.port) as gateway:
        await gateway.send(
            Frame("kitchen", 24000, "s1", FrameKind.STREAM, pcm_bytes(speech(KITCHEN, 24000)))
        )
        reply = await gateway.streamed_reply("s1")
        await gateway.send(Frame("kitchen", 16000, "s2", FrameKind.STREAM, pcm))
        second = await gateway.streamed_reply("s2")
    summary = reply.summary
    assert summary.status == "ok" and words_in(summary.transcript, KITCHEN)
    assert summary.reply and reply.audio_frames
    assert all(
        frame.sample_rate == 24000 and frame.device_id == "kitchen" for frame in reply.audio_frames
    )
    for key in ("stt_ms", "llm_first_token_ms", "tts_first_chunk_ms", "first_audio_ms", "total_ms"):
        assert summary.timings[key] > 0, key
    assert summary.timings["first_audio_ms"] <= summary.timings["total_ms"]
    assert second.summary.status == "ok" and second.pcm


async def test_noise_gets_empty_end(server: NailaServer) -> None:
    noise = np.random.default_rng(7).normal(0, 3000, 16000).astype("<i2").tobytes()
    async with connect(server.port) as gateway:
        await gateway.send(Frame("hall", 16000, "n1", FrameKind.STREAM, noise))
        reply = await gateway.streamed_reply("n1")
    assert reply.summary.status == "empty" and reply.audio_frames == []


async def send_paced(gateway: Gateway, request_id: str, pcm: bytes, rate: int) -> None:
    """100 ms CHUNK frames at real-time pace (like a live microphone), then an empty FINAL."""
    step = rate * 2 // 10
    for offset in range(0, len(pcm), step):
        await gateway.send(
            Frame("den", rate, request_id, FrameKind.CHUNK, pcm[offset : offset + step])
        )
        await asyncio.sleep(0.1)  # pacing: a live microphone
    await gateway.send(Frame("den", rate, request_id, FrameKind.FINAL))


@pytest.mark.parametrize("mode", list(SpeculationMode))
async def test_chunked_utterance_with_pause_is_answered(
    make_server: ServerFactory, speech: Speech, mode: SpeculationMode
) -> None:
    server = await make_server(settings=ServerSettings(speculation=SpeculationSettings(mode=mode)))
    rate = 16000
    async with connect(server.port) as gateway:
        await send_paced(gateway, "c1", pcm_bytes(speech(KITCHEN, rate)) + silence(0.5, rate), rate)
        reply = await gateway.streamed_reply("c1")
    assert reply.summary.status == "ok" and words_in(reply.summary.transcript, KITCHEN)
    assert reply.pcm


async def test_speech_after_a_pause_replaces_the_speculation(
    server: NailaServer, speech: Speech, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wyoming_bridge.speculative")
    rate = 16000
    pcm = (
        pcm_bytes(speech("turn on", rate))
        + silence(0.8, rate)  # long enough to start a speculation on "turn on"
        + pcm_bytes(speech("the kitchen lights", rate))
        + silence(0.3, rate)
    )
    async with connect(server.port) as gateway:
        await send_paced(gateway, "c3", pcm, rate)
        reply = await gateway.streamed_reply("c3")
    assert reply.summary.status == "ok" and words_in(reply.summary.transcript, KITCHEN)
    assert any("dropping speculation" in record.getMessage() for record in caplog.records)


async def test_cancel_stops_a_streamed_reply(server: NailaServer, speech: Speech) -> None:
    question = "tell me a long story about a dragon and a castle"
    async with connect(server.port) as gateway:
        await gateway.send(
            Frame("den", 16000, "long1", FrameKind.STREAM, pcm_bytes(speech(question, 16000)))
        )
        first = await gateway.frame()
        assert first is not None and first.kind is FrameKind.AUDIO
        await gateway.send(Frame("den", 16000, "long1", FrameKind.CANCEL))
        rest = await gateway.streamed_reply("long1", within=10)
    assert rest.summary.status == "cancelled"
    assert len(rest.audio_frames) <= 1  # at most the sentence already being synthesized


async def test_cancel_while_chunks_are_still_arriving(server: NailaServer, speech: Speech) -> None:
    async with connect(server.port) as gateway:
        await gateway.send(
            Frame("den", 16000, "c2", FrameKind.CHUNK, pcm_bytes(speech(KITCHEN, 16000)))
        )
        await gateway.send(Frame("den", 16000, "c2", FrameKind.CANCEL))
        reply = await gateway.streamed_reply("c2", within=10)
    assert reply.summary.status == "cancelled" and reply.audio_frames == []


async def test_speak_frame_is_synthesized(server: NailaServer) -> None:
    text = "The front door is open. Please close it."
    async with connect(server.port) as gateway:
        await gateway.send(Frame("hall", 22050, "ann1", FrameKind.SPEAK, text.encode()))
        reply = await gateway.streamed_reply("ann1")
    assert reply.summary.status == "ok" and reply.summary.reply == text
    assert len(reply.audio_frames) == 2 and len(reply.pcm) > 22050 * 2


async def test_requests_multiplexed_on_one_connection(server: NailaServer, speech: Speech) -> None:
    async with connect(server.port) as gateway:
        await gateway.send(
            Frame("kitchen", 16000, "m1", FrameKind.STREAM, pcm_bytes(speech(KITCHEN, 16000)))
        )
        await gateway.send(Frame("office", 16000, "m2", FrameKind.SPEAK, b"Hello office."))
        await gateway.send(Frame("garage", 16000, "m3", payload=silence(0.5, 16000)))
        frames: dict[str, list[Frame]] = {"m1": [], "m2": [], "m3": []}
        async with asyncio.timeout(60):
            while not (
                any(f.kind is FrameKind.END for f in frames["m1"])
                and any(f.kind is FrameKind.END for f in frames["m2"])
                and frames["m3"]
            ):
                frame = await gateway.frame()
                assert frame is not None
                frames[frame.request_id].append(frame)
    assert {f.device_id for f in frames["m1"]} == {"kitchen"}
    assert {f.device_id for f in frames["m2"]} == {"office"}
    assert [(f.kind, f.payload) for f in frames["m3"]] == [(FrameKind.BASIC, b"")]


@pytest.mark.parametrize("clients", [3])
async def test_concurrent_clients_all_answered(
    server: NailaServer, speech: Speech, clients: int
) -> None:
    pcm = pcm_bytes(speech(KITCHEN, 16000))

    async def one(index: int) -> Frame | None:
        async with connect(server.port) as gateway:
            await gateway.send(Frame(f"dev{index}", 16000, f"r{index}", payload=pcm))
            return await gateway.frame(within=120)

    replies = await asyncio.gather(*(one(i) for i in range(clients)))
    for index, reply in enumerate(replies):
        assert reply is not None and reply.request_id == f"r{index}" and reply.payload


async def test_context_provider_sees_device_and_transcript(
    make_server: ServerFactory, speech: Speech
) -> None:
    """The vision hook: called with (device_id, transcript); a slow one never holds the reply."""
    calls: list[tuple[str, str]] = []

    async def slow_context(device_id: str, text: str) -> str | None:
        calls.append((device_id, text))
        await asyncio.sleep(5)  # longer than the pipeline's context timeout
        return "a red car is parked outside"

    server = await make_server(context_provider=slow_context)
    async with connect(server.port) as gateway:
        await gateway.send(
            Frame("porch", 16000, "v1", FrameKind.STREAM, pcm_bytes(speech(KITCHEN, 16000)))
        )
        reply = await gateway.streamed_reply("v1", within=30)
    assert reply.summary.status == "ok" and reply.pcm
    assert len(calls) == 1 and calls[0][0] == "porch" and words_in(calls[0][1], KITCHEN)


async def test_stop_with_gateways_connected_logs_no_error(
    make_server: ServerFactory, speech: Speech, caplog: pytest.LogCaptureFixture
) -> None:
    """A server stopped while gateways are connected (one mid-request) closes them quietly."""
    server = await make_server()
    async with connect(server.port) as idle, connect(server.port) as busy:
        await busy.send(Frame("dev", 16000, "r1", payload=pcm_bytes(speech(KITCHEN, 16000))))
        await idle.send(Frame("dev2", 16000, "r2", payload=silence(0.1, 16000)))
        assert await idle.frame() is not None
        await server.stop()
        assert await idle.closed() and await busy.closed()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
