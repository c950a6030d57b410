"""The routing stage of one request's reply: HA's speech or the LLM's reply, never both."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from naila_protocol.framing import ReplySummary
from naila_protocol.vocab import ReplyRoute, RouteReason

from ..pipeline import DoneEvent, Pipeline, PipelineEvent, RequestInfo, TranscriptEvent
from ..speculative import EventRecorder
from .router import HaRouter, RouteOutcome

NOT_ROUTED = RouteOutcome(ReplyRoute.LLM, RouteReason.NAILA_ONLY)


async def route_reply(
    events: AsyncIterator[PipelineEvent],
    router: HaRouter,
    pipeline: Pipeline,
    *,
    info: RequestInfo,
    rate: int,
    cancel: threading.Event,
    discard_llm: Callable[[], None] = lambda: None,
) -> AsyncIterator[PipelineEvent]:
    """`events` of a whole utterance (transcript, then the LLM's reply) routed through HA.

    Everything up to the final transcript passes through. The LLM's reply keeps being produced
    in the background while HA is asked; when HA answers, it is dropped (`discard_llm` stops a
    speculation feeding it) and HA's speech is spoken sentence by sentence instead.
    """
    transcript: str | None = None
    stt_timings: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as owner:
        owner.push_async_callback(_close, events)
        async for event in events:
            yield event
            if isinstance(event, DoneEvent):
                return
            if isinstance(event, TranscriptEvent):
                transcript, stt_timings = event.text, event.timings
                break
        if not transcript or cancel.is_set():  # nothing to route: empty, cancelled or ended
            async for event in events:
                yield event
            return
        if not router.wants(info.device_id):
            async for event in events:
                yield _tagged(event, NOT_ROUTED)
            return
        owner.pop_all()  # the recorder owns the LLM's events from here on
    llm = EventRecorder(events, threading.Event())
    try:
        outcome = await router.ask(info.device_id, info.request_id, transcript, info.language)
        if outcome.speech is None:
            async with contextlib.aclosing(llm.replay()) as replay:  # type: ignore[type-var]
                async for event in replay:
                    yield _tagged(event, outcome)
            return
    finally:
        await llm.stop()
    discard_llm()
    summary = ReplySummary("ok", transcript, outcome.speech or "", dict(stt_timings))
    spoken = _speak(pipeline, outcome, summary, rate=rate, info=info, cancel=cancel)
    async with contextlib.aclosing(spoken):  # type: ignore[type-var]
        async for event in spoken:
            yield event


async def _close(events: AsyncIterator[PipelineEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


async def _speak(
    pipeline: Pipeline,
    outcome: RouteOutcome,
    summary: ReplySummary,
    *,
    rate: int,
    info: RequestInfo,
    cancel: threading.Event,
) -> AsyncIterator[PipelineEvent]:
    """HA's speech (or the could-not-reach sentence) first clause first, then the summary."""
    started = time.perf_counter()
    async for event in pipeline.speak(summary.reply, rate, info, cancel):
        summary.timings.setdefault(
            "tts_first_chunk_ms", round((time.perf_counter() - started) * 1e3, 1)
        )
        yield event
    if cancel.is_set():
        summary.status = "cancelled"
    yield _tagged(DoneEvent(summary), outcome)


def _tagged(event: PipelineEvent, outcome: RouteOutcome) -> PipelineEvent:
    """A DoneEvent carries the route, its reason and HA's round trip; others pass unchanged."""
    if not isinstance(event, DoneEvent):
        return event
    timings = dict(event.summary.timings)
    if outcome.ha_ms is not None:
        timings["ha_ms"] = outcome.ha_ms
    summary = replace(
        event.summary, timings=timings, route=outcome.route.value, route_reason=str(outcome.reason)
    )
    return DoneEvent(summary)
