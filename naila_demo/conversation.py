"""Turns of the demo conversation: the simulated device speaks, hears the reply, saves it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from naila_demo.speech import write_wav
from naila_sim import SimDevice

REPLY_EVENT = "reply"
FAILURE_EVENTS = frozenset({"server_unavailable", "reply_timeout", "error"})
END_OF_REPLY_FRAMES = 40
"""Silent 20 ms frames after which a reply counts as finished (0.8 s)."""
LEAD_IN_FRAMES = 2
"""Frames kept before the first voiced one in the saved reply."""


class TurnError(Exception):
    """The gateway reported a failure for this turn, or nothing came back in time."""


@dataclass(slots=True)
class TurnResult:
    index: int
    transcript: str
    reply: str
    status: str
    first_audio_ms: float | None
    """End of the device's speech -> first reply sound heard by the device."""
    gateway_first_audio_ms: float | None
    """Gateway's own figure: last speech frame it got -> first reply frame it sent."""
    timings: dict[str, float]
    """The AI server's breakdown (stt_ms, llm_first_token_ms, tts_first_chunk_ms, ...)."""
    reply_seconds: float
    reply_wav: Path | None


async def _next_event(device: SimDevice, since: int, within_s: float) -> dict[str, Any]:
    """First reply or failure event at index >= since."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for event in device.events[since:]:
            name = event.get("event")
            if name == REPLY_EVENT or name in FAILURE_EVENTS:
                return event
        await asyncio.sleep(0.05)
    raise TurnError(f"no reply event within {within_s:.0f} s")


async def run_turn(
    device: SimDevice, speech: np.ndarray, index: int, out_dir: Path, *, within_s: float = 90.0
) -> TurnResult:
    """Say `speech`, wait for the reply to be heard to its end, save it as a WAV."""
    events_before = len(device.events)
    speech_end = await device.say(speech)
    mark = device.recorder.mark()
    event = await _next_event(device, events_before, within_s)
    if event.get("event") in FAILURE_EVENTS:
        raise TurnError(
            f"gateway reported {event.get('event')}: {event.get('message', '')}".strip()
        )
    first_audio_ms: float | None = None
    reply_wav: Path | None = None
    reply_seconds = 0.0
    if event.get("first_audio_ms") is not None:
        recorder = device.recorder
        first = await recorder.wait_voiced(mark, within_s)
        first_audio_ms = (recorder.time_of(first) - speech_end) * 1000
        end = await recorder.wait_quiet(first, END_OF_REPLY_FRAMES, within_s)
        start = max(mark, first - LEAD_IN_FRAMES)
        reply_seconds = recorder.voiced_seconds(first, end)
        reply_wav = out_dir / f"turn-{index:02d}-reply.wav"
        await asyncio.to_thread(write_wav, reply_wav, recorder.audio(start, end))
        recorder.forget_before(end)  # an endless demo keeps only the current turn's audio
    timings = event.get("timings") or {}
    return TurnResult(
        index=index,
        transcript=str(event.get("transcript", "")),
        reply=str(event.get("reply", "")),
        status=str(event.get("status", "")),
        first_audio_ms=first_audio_ms,
        gateway_first_audio_ms=event.get("first_audio_ms"),
        timings={k: float(v) for k, v in dict(timings).items()},
        reply_seconds=reply_seconds,
        reply_wav=reply_wav,
    )
