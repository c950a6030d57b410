"""One request on a gateway connection and the writing of its reply (streamed or whole)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from naila_protocol.framing import Frame, FrameKind, ReplySummary

from .frame_writer import FrameWriter
from .pipeline import AudioEvent, DoneEvent, Pipeline, PipelineEvent, RequestInfo
from .runner import QUEUE_FAILURES
from .speculative import ChunkedUtterance

_LOGGER = logging.getLogger(__name__)

RequestObserver = Callable[[RequestInfo, ReplySummary], None]
"""Called once per finished request (metrics, logs)."""


@dataclass(slots=True)
class Request:
    """A request in flight: its reply task, or the chunked utterance still being spoken."""

    info: RequestInfo
    rate: int
    kind: FrameKind
    cancel: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    chunked: ChunkedUtterance | None = None
    expiry: asyncio.TimerHandle | None = None
    """Drops a chunked utterance whose FINAL never comes; cancelled once the request ends."""
    ended_at: float = 0.0

    def release(self) -> None:
        """Stop what the request still runs besides its reply task (timer, speculation)."""
        if self.expiry is not None:
            self.expiry.cancel()
        if self.chunked is not None:
            self.chunked.close()


class ReplyWriter:
    """Runs a request's pipeline events into reply frames, then the bookkeeping once."""

    def __init__(
        self,
        frames: FrameWriter,
        pipeline: Pipeline,
        *,
        request_timeout_s: float,
        on_finished: Callable[[Request], None],
        observer: RequestObserver | None = None,
    ) -> None:
        self.frames = frames
        self.pipeline = pipeline
        self.request_timeout_s = request_timeout_s
        self.observer = observer
        self._on_finished = on_finished

    async def stream(self, request: Request, events: AsyncIterator[PipelineEvent]) -> None:
        """AUDIO frames as the reply is spoken, then END with the summary."""
        info = request.info
        summary = ReplySummary(status="error")
        first_audio: float | None = None
        try:
            async with asyncio.timeout(self.request_timeout_s):
                async with contextlib.aclosing(events):  # type: ignore[type-var]
                    async for event in events:
                        if request.cancel.is_set():
                            break
                        if isinstance(event, AudioEvent) and event.pcm:
                            await self.frames.send(
                                Frame(
                                    info.device_id,
                                    request.rate,
                                    info.request_id,
                                    FrameKind.AUDIO,
                                    event.pcm,
                                )
                            )
                            first_audio = first_audio or time.perf_counter()
                        elif isinstance(event, DoneEvent):
                            summary = event.summary
        except (ConnectionError, asyncio.CancelledError):
            request.cancel.set()
            summary.status = "cancelled"  # the gateway went away, or the server is stopping
            self.finish(request, summary, first_audio)
            raise
        except QUEUE_FAILURES as err:
            _LOGGER.warning("[%s] request %s failed: %s", self.frames.peer, info.request_id, err)
            summary = ReplySummary(status="error", reply=f"{type(err).__name__}: {err}")
        except Exception as err:
            _LOGGER.exception("[%s] request %s failed", self.frames.peer, info.request_id)
            summary = ReplySummary(status="error", reply=f"{type(err).__name__}: {err}")
        if request.cancel.is_set():
            summary.status = "cancelled"
        self.finish(request, summary, first_audio)
        await self.send_end(request, summary)

    async def whole(self, request: Request, events: AsyncIterator[PipelineEvent]) -> None:
        """One BASIC frame holding the whole reply's audio."""
        info = request.info
        summary = ReplySummary(status="error")
        audio = bytearray()
        try:
            async with asyncio.timeout(self.request_timeout_s):
                async with contextlib.aclosing(events):  # type: ignore[type-var]
                    async for event in events:
                        if isinstance(event, AudioEvent):
                            audio += event.pcm
                        elif isinstance(event, DoneEvent):
                            summary = event.summary
        except asyncio.CancelledError:
            self.finish(request, summary, None)
            raise
        except QUEUE_FAILURES as err:
            _LOGGER.warning(
                "[%s] request %s failed: %s; empty reply", self.frames.peer, info.request_id, err
            )
            audio.clear()
        except Exception:
            _LOGGER.exception(
                "[%s] request %s failed; empty reply", self.frames.peer, info.request_id
            )
            audio.clear()
        self.finish(request, summary, time.perf_counter() if audio else None)
        await self.frames.send_quietly(
            Frame(info.device_id, request.rate, info.request_id, payload=bytes(audio))
        )

    async def speak_events(self, text: str, request: Request) -> AsyncIterator[PipelineEvent]:
        """A SPEAK request: the text spoken, then a summary with its first-chunk time."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        async for event in self.pipeline.speak(text, request.rate, request.info, request.cancel):
            timings.setdefault(
                "tts_first_chunk_ms", round((time.perf_counter() - started) * 1e3, 1)
            )
            yield event
        yield DoneEvent(ReplySummary("ok", "", text, timings))

    def finish(self, request: Request, summary: ReplySummary, first_audio: float | None) -> None:
        """Bookkeeping once per request: timings, memory, metrics, log."""
        self._on_finished(request)
        now = time.perf_counter()
        if first_audio is not None:
            summary.timings["first_audio_ms"] = round((first_audio - request.ended_at) * 1e3, 1)
        summary.timings["total_ms"] = round((now - request.ended_at) * 1e3, 1)
        if summary.status == "ok" and request.kind is not FrameKind.SPEAK:
            self.pipeline.remember(request.info, summary.transcript, summary.reply)
        _LOGGER.info(
            "[%s] %s/%s %s transcript=%r reply=%r timings=%s",
            self.frames.peer,
            request.info.device_id,
            request.info.request_id,
            summary.status,
            summary.transcript,
            summary.reply,
            summary.timings,
        )
        if self.observer is not None:
            try:
                self.observer(request.info, summary)
            except Exception:
                _LOGGER.exception("request observer failed")

    async def send_end(self, request: Request, summary: ReplySummary) -> None:
        info = request.info
        await self.frames.send_quietly(
            Frame(info.device_id, request.rate, info.request_id, FrameKind.END, summary.to_json())
        )
