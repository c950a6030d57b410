"""Partial transcripts on the real AI server: each pause's speculative transcript as a PARTIAL
frame to a gateway that asked for them, never after FINAL; the reply keeps the final one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from naila_protocol.framing import ErrorCode, Frame, FrameKind, PartialTranscript
from tests.helpers import wait_until
from tests.server.conftest import ServerFactory
from tests.server.wire import Gateway, connect, pcm_bytes, silence
from wyoming_bridge.app import ServerSettings
from wyoming_bridge.speculative import SpeculationMode, SpeculationSettings

Speech = Callable[[str, int], np.ndarray]
RATE = 16000


async def _spoken(gateway: Gateway, request_id: str, pcm: bytes, *, expect: int) -> list[Frame]:
    """100 ms CHUNKs in real time, PARTIAL subscription after the first; the frames received
    meanwhile (waiting up to 20 s for `expect` of them: STT takes seconds on a loaded machine)."""
    step = RATE * 2 // 10
    frames: list[Frame] = []

    async def collect() -> None:
        while (frame := await gateway.frame()) is not None:
            frames.append(frame)

    reader = asyncio.create_task(collect())
    try:
        for index, offset in enumerate(range(0, len(pcm), step)):
            await gateway.send(Frame("den", RATE, request_id, FrameKind.CHUNK, pcm[offset : offset + step]))  # fmt: skip
            if index == 0:
                await gateway.send(Frame("den", RATE, request_id, FrameKind.PARTIAL))
            await asyncio.sleep(0.1)  # pacing: a live microphone
        await wait_until(lambda: len(frames) >= expect, 20)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return frames


async def test_each_pause_sends_its_transcript_and_the_reply_the_final_one(
    make_server: ServerFactory, speech: Speech
) -> None:
    server = await make_server()
    pcm = (
        pcm_bytes(speech("turn on the kitchen lights", RATE))
        + silence(3.0, RATE)  # long enough for the transcript even when STT is slow
        + pcm_bytes(speech("what time is it", RATE))
        + silence(0.8, RATE)
    )
    async with connect(server.port) as gateway:
        frames = await _spoken(gateway, "p1", pcm, expect=2)
        await gateway.send(Frame("den", RATE, "p1", FrameKind.FINAL))
        reply = await gateway.streamed_reply("p1")  # AUDIO and END only: no PARTIAL after FINAL
    assert all(f.kind is FrameKind.PARTIAL and f.request_id == "p1" for f in frames), frames
    partials = [PartialTranscript.from_frame(frame) for frame in frames]
    first, last = partials[0], partials[-1]
    assert "kitchen" in first.text.lower() and "time" not in first.text.lower(), partials
    assert "time" in last.text.lower(), partials
    assert 0 < first.audio_ms < last.audio_ms <= len(pcm) // 32
    assert len({p.text for p in partials}) == len(partials)  # a repeat is not sent again
    summary = reply.summary
    assert summary.status == "ok"
    assert "kitchen" in summary.transcript.lower() and "time" in summary.transcript.lower()


async def test_partial_needs_a_chunked_request_and_stt_speculation(
    make_server: ServerFactory, speech: Speech
) -> None:
    stt_only = ServerSettings(speculation=SpeculationSettings(mode=SpeculationMode.STT))
    server = await make_server(settings=stt_only)
    pcm = pcm_bytes(speech("turn on the kitchen lights", RATE)) + silence(1.0, RATE)
    async with connect(server.port) as gateway:
        await gateway.send(Frame("den", RATE, "nobody", FrameKind.PARTIAL))
        refused = await gateway.frame(within=10)
        assert refused is not None and refused.kind is FrameKind.ERROR
        assert refused.json()["code"] == ErrorCode.UNKNOWN_REQUEST
        frames = await _spoken(gateway, "p2", pcm, expect=1)  # speculation on STT only: still
        await gateway.send(Frame("den", RATE, "p2", FrameKind.FINAL))
        reply = await gateway.streamed_reply("p2")
    assert "kitchen" in PartialTranscript.from_frame(frames[0]).text.lower()
    assert "kitchen" in reply.summary.transcript.lower()
