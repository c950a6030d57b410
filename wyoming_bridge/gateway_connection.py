"""One gateway connection on the audio socket: requests multiplexed by request_id."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from naila_protocol.framing import (
    NO_REQUEST,
    TURN_DISABLED,
    ErrorCode,
    Frame,
    FrameError,
    FrameKind,
    ReplySummary,
    TurnVerdict,
    encode_frame,
    error_frame,
    max_audio_bytes,
    read_frame,
)
from naila_protocol.settings import setting

from .pipeline import AudioEvent, DoneEvent, Pipeline, PipelineEvent, RequestInfo
from .routing.router import HaRouter
from .routing.stage import route_reply
from .runner import QUEUE_FAILURES
from .speculative import ChunkedUtterance, SpeculationSettings
from .turn_detector import TurnDetector

_LOGGER = logging.getLogger(__name__)

RequestObserver = Callable[[RequestInfo, ReplySummary], None]
"""Called once per finished request (metrics, logs)."""
VideoHandler = Callable[[str, str, bytes], Awaitable[None]]
"""async (device_id, request_id, jpeg) for VIDEO frames (the vision engineer's hook)."""


_GROUP = "gateway audio socket"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    auth_token: str | None = setting(
        None,
        env="AUDIO_SOCKET_TOKEN",
        flag="--auth-token",
        group=_GROUP,
        help="shared token gateways must send in an AUTH frame",
    )
    first_frame_timeout_s: float = setting(
        10.0,
        env="AUDIO_SOCKET_FIRST_FRAME_TIMEOUT",
        flag="--first-frame-timeout",
        group=_GROUP,
        help="seconds a new connection may stay silent before its first frame (or AUTH)",
    )
    idle_timeout_s: float = setting(
        600.0,
        env="AUDIO_SOCKET_IDLE_TIMEOUT",
        flag="--idle-timeout",
        group=_GROUP,
        help="seconds without frames before an idle connection closes (0 = never)",
    )
    max_requests: int = setting(
        16,
        env="AUDIO_SOCKET_MAX_REQUESTS",
        flag="--max-requests-per-connection",
        group=_GROUP,
        help="requests in flight per connection",
    )
    request_timeout_s: float = setting(
        60.0,
        env="AUDIO_SOCKET_REQUEST_TIMEOUT",
        flag="--request-timeout",
        group=_GROUP,
        help="seconds one request may take",
    )


@dataclass(slots=True)
class _Request:
    info: RequestInfo
    rate: int
    kind: FrameKind
    cancel: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    chunked: ChunkedUtterance | None = None
    ended_at: float = 0.0


class GatewayConnection:
    """Reads frames, starts/cancels requests, writes replies; never raises to the server."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pipeline: Pipeline,
        *,
        limits: ConnectionLimits,
        speculation: SpeculationSettings,
        observer: RequestObserver | None = None,
        video_handler: VideoHandler | None = None,
        router: HaRouter | None = None,
        turn: TurnDetector | None = None,
    ) -> None:
        self.router = router
        self.reader = reader
        self.turn = turn
        """End-of-turn verdicts for chunked utterances (TURN frames), when set."""
        self.writer = writer
        self.pipeline = pipeline
        self.limits = limits
        self.speculation = speculation
        self.observer = observer
        self.video_handler = video_handler
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._requests: dict[str, _Request] = {}
        self._write_lock = asyncio.Lock()

    @property
    def active_requests(self) -> int:
        return len(self._requests)

    async def serve(self) -> None:
        try:
            if self.limits.auth_token and not await self._authenticate():
                return
            await self._read_loop()
        except (ConnectionError, asyncio.IncompleteReadError) as err:
            _LOGGER.info("[%s] connection lost: %s", self.peer, err)
        finally:
            await self._shutdown()

    async def _authenticate(self) -> bool:
        try:
            frame = await read_frame(self.reader, self.limits.first_frame_timeout_s)
        except TimeoutError:
            await self._fail(ErrorCode.TIMEOUT, "no AUTH frame received")
            return False
        except FrameError as err:
            await self._fail(err.code, err.message)
            return False
        token = self.limits.auth_token or ""
        if (
            frame is None
            or frame.kind is not FrameKind.AUTH
            or not hmac.compare_digest(frame.payload, token.encode())
        ):
            await self._fail(ErrorCode.UNAUTHORIZED, "first frame must be AUTH with the token")
            return False
        await self._send(Frame(NO_REQUEST, 0, NO_REQUEST, FrameKind.AUTH_OK))
        return True

    async def _read_loop(self) -> None:
        timeout = self.limits.first_frame_timeout_s
        while True:
            try:
                frame = await read_frame(self.reader, timeout or None)
            except TimeoutError:
                if self._requests:
                    continue  # waiting on our own replies is not idleness
                await self._fail(ErrorCode.TIMEOUT, f"no frame for {timeout:.0f} s")
                return
            except FrameError as err:
                if err.fatal:
                    await self._fail(err.code, err.message)
                    return
                _LOGGER.warning(
                    "[%s] %s: %s (%s)", self.peer, err.code, err.message, err.request_id
                )
                await self._send(
                    error_frame(
                        err.code, err.message, device_id=err.device_id, request_id=err.request_id
                    )
                )
                continue
            if frame is None:
                _LOGGER.debug("[%s] closed by peer", self.peer)
                return
            timeout = self.limits.idle_timeout_s
            await self._dispatch(frame)

    async def _dispatch(self, frame: Frame) -> None:
        kind = frame.kind
        if kind in (FrameKind.BASIC, FrameKind.STREAM, FrameKind.SPEAK):
            self._start(frame)
        elif kind is FrameKind.CHUNK:
            self._chunk(frame)
        elif kind is FrameKind.FINAL:
            self._final(frame)
        elif kind is FrameKind.CANCEL:
            await self._cancel(frame)
        elif kind is FrameKind.VIDEO:
            await self._video(frame)
        elif kind is FrameKind.TURN:
            await self._subscribe_turn(frame)
        elif kind is FrameKind.PING:
            pass  # a frame: the idle timer starts again
        elif kind is FrameKind.AUTH:
            await self._send(Frame(NO_REQUEST, 0, NO_REQUEST, FrameKind.AUTH_OK))
        elif kind is FrameKind.ERROR:
            _LOGGER.warning("[%s] peer reported an error: %r", self.peer, frame.payload[:200])
        else:
            await self._reject(
                frame, ErrorCode.BAD_KIND, f"{kind.value} frames are server-to-gateway"
            )

    def _new_request(self, frame: Frame) -> _Request | None:
        if frame.request_id == NO_REQUEST:
            self._reject_soon(frame, ErrorCode.BAD_HEADER, "a request needs a request_id")
            return None
        if frame.request_id in self._requests:
            self._reject_soon(frame, ErrorCode.BAD_HEADER, "request_id already in flight")
            return None
        if len(self._requests) >= self.limits.max_requests:
            self._reject_soon(frame, ErrorCode.BUSY, "too many requests in flight")
            return None
        request = _Request(
            RequestInfo(frame.device_id, frame.request_id), frame.sample_rate, frame.kind
        )
        self._requests[frame.request_id] = request
        return request

    def _start(self, frame: Frame) -> None:
        request = self._new_request(frame)
        if request is None:
            return
        request.ended_at = time.perf_counter()
        if frame.kind is FrameKind.SPEAK:
            try:
                text = frame.payload.decode("utf-8").strip()
            except UnicodeDecodeError:
                self._requests.pop(frame.request_id)
                self._reject_soon(frame, ErrorCode.BAD_HEADER, "speak body is not UTF-8")
                return
            events = self._speak_events(text, request)
        else:
            events = self.pipeline.run(
                frame.payload, frame.sample_rate, request.info, request.cancel
            )
        self._launch(request, events)

    def _chunk(self, frame: Frame) -> None:
        request = self._requests.get(frame.request_id)
        if request is None:
            request = self._new_request(frame)
            if request is None:
                return
            request.chunked = ChunkedUtterance(
                self.pipeline,
                request.info,
                frame.sample_rate,
                request.cancel,
                self.speculation,
                turn=self.turn,
            )
            asyncio.get_running_loop().call_later(
                self.limits.request_timeout_s, self._expire_chunked, request
            )
        if request.chunked is None or request.task is not None or frame.sample_rate != request.rate:
            self._reject_soon(
                frame, ErrorCode.BAD_HEADER, "chunk does not continue an open chunked request"
            )
            return
        if len(request.chunked.audio) + len(frame.payload) > max_audio_bytes(request.rate):
            self._drop(request)
            self._reject_soon(frame, ErrorCode.TOO_LARGE, "utterance longer than the limit")
            return
        request.chunked.add(frame.payload)

    def _final(self, frame: Frame) -> None:
        request = self._requests.get(frame.request_id)
        if request is None:
            self._start(frame)  # a FINAL without CHUNKs is a whole streamed utterance
            return
        if request.chunked is None or request.task is not None or frame.sample_rate != request.rate:
            self._reject_soon(
                frame, ErrorCode.BAD_HEADER, "final does not close an open chunked request"
            )
            return
        if len(request.chunked.audio) + len(frame.payload) > max_audio_bytes(request.rate):
            self._drop(request)
            self._reject_soon(frame, ErrorCode.TOO_LARGE, "utterance longer than the limit")
            return
        request.ended_at = time.perf_counter()
        self._launch(request, request.chunked.finish(frame.payload))

    def _expire_chunked(self, request: _Request) -> None:
        """A chunked utterance whose FINAL never came: drop it and say so."""
        if request.task is not None or self._requests.get(request.info.request_id) is not request:
            return
        self._drop(request)
        info = request.info
        frame = Frame(info.device_id, request.rate, info.request_id, FrameKind.CHUNK)
        self._reject_soon(frame, ErrorCode.TIMEOUT, "no FINAL within the request timeout")

    async def _cancel(self, frame: Frame) -> None:
        request = self._requests.get(frame.request_id)
        if request is None:
            await self._reject(frame, ErrorCode.UNKNOWN_REQUEST, "no such request in flight")
            return
        _LOGGER.info("[%s] cancel %s", self.peer, frame.request_id)
        request.cancel.set()
        if request.task is None:  # chunked request still being spoken
            self._drop(request)
            summary = ReplySummary(status="cancelled")
            await self._send_end(request, summary)

    async def _video(self, frame: Frame) -> None:
        if self.video_handler is None:
            await self._reject(frame, ErrorCode.BAD_KIND, "this server has no vision")
            return
        try:
            await self.video_handler(frame.device_id, frame.request_id, frame.payload)
        except Exception:
            _LOGGER.exception("[%s] video handler failed", self.peer)

    def _launch(self, request: _Request, events: AsyncIterator[PipelineEvent]) -> None:
        if self.router is not None and request.kind is not FrameKind.SPEAK:
            chunked = request.chunked
            events = route_reply(
                events,
                self.router,
                self.pipeline,
                info=request.info,
                rate=request.rate,
                cancel=request.cancel,
                discard_llm=chunked.close if chunked is not None else lambda: None,
            )
        reply = self._basic_reply if request.kind is FrameKind.BASIC else self._stream_reply
        request.task = asyncio.create_task(
            reply(request, events), name=f"request {request.info.request_id}"
        )

    async def _stream_reply(self, request: _Request, events: AsyncIterator[PipelineEvent]) -> None:
        info = request.info
        summary = ReplySummary(status="error")
        first_audio: float | None = None
        try:
            async with asyncio.timeout(self.limits.request_timeout_s):
                async with contextlib.aclosing(events):  # type: ignore[type-var]
                    async for event in events:
                        if request.cancel.is_set():
                            break
                        if isinstance(event, AudioEvent) and event.pcm:
                            await self._send(
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
            self._finish(request, summary, first_audio)
            raise
        except QUEUE_FAILURES as err:
            _LOGGER.warning("[%s] request %s failed: %s", self.peer, info.request_id, err)
            summary = ReplySummary(status="error", reply=f"{type(err).__name__}: {err}")
        except Exception as err:
            _LOGGER.exception("[%s] request %s failed", self.peer, info.request_id)
            summary = ReplySummary(status="error", reply=f"{type(err).__name__}: {err}")
        if request.cancel.is_set():
            summary.status = "cancelled"
        self._finish(request, summary, first_audio)
        await self._send_end(request, summary)

    async def _basic_reply(self, request: _Request, events: AsyncIterator[PipelineEvent]) -> None:
        info = request.info
        summary = ReplySummary(status="error")
        audio = bytearray()
        try:
            async with asyncio.timeout(self.limits.request_timeout_s):
                async with contextlib.aclosing(events):  # type: ignore[type-var]
                    async for event in events:
                        if isinstance(event, AudioEvent):
                            audio += event.pcm
                        elif isinstance(event, DoneEvent):
                            summary = event.summary
        except asyncio.CancelledError:
            self._finish(request, summary, None)
            raise
        except QUEUE_FAILURES as err:
            _LOGGER.warning(
                "[%s] request %s failed: %s; empty reply", self.peer, info.request_id, err
            )
            audio.clear()
        except Exception:
            _LOGGER.exception("[%s] request %s failed; empty reply", self.peer, info.request_id)
            audio.clear()
        self._finish(request, summary, time.perf_counter() if audio else None)
        with contextlib.suppress(ConnectionError):
            await self._send(
                Frame(info.device_id, request.rate, info.request_id, payload=bytes(audio))
            )

    async def _speak_events(self, text: str, request: _Request) -> AsyncIterator[PipelineEvent]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        async for event in self.pipeline.speak(text, request.rate, request.info, request.cancel):
            timings.setdefault(
                "tts_first_chunk_ms", round((time.perf_counter() - started) * 1e3, 1)
            )
            yield event
        yield DoneEvent(ReplySummary("ok", "", text, timings))

    def _finish(self, request: _Request, summary: ReplySummary, first_audio: float | None) -> None:
        """Bookkeeping once per request: timings, memory, metrics, log."""
        self._requests.pop(request.info.request_id, None)
        if request.chunked is not None:
            request.chunked.close()
        now = time.perf_counter()
        if first_audio is not None:
            summary.timings["first_audio_ms"] = round((first_audio - request.ended_at) * 1e3, 1)
        summary.timings["total_ms"] = round((now - request.ended_at) * 1e3, 1)
        if summary.status == "ok" and request.kind is not FrameKind.SPEAK:
            self.pipeline.remember(request.info, summary.transcript, summary.reply)
        _LOGGER.info(
            "[%s] %s/%s %s transcript=%r reply=%r timings=%s",
            self.peer,
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

    def _drop(self, request: _Request) -> None:
        request.cancel.set()
        self._requests.pop(request.info.request_id, None)
        if request.chunked is not None:
            request.chunked.close()

    async def _send_end(self, request: _Request, summary: ReplySummary) -> None:
        info = request.info
        with contextlib.suppress(ConnectionError):
            await self._send(
                Frame(
                    info.device_id, request.rate, info.request_id, FrameKind.END, summary.to_json()
                )
            )

    async def _send(self, frame: Frame) -> None:
        data = encode_frame(frame)
        async with self._write_lock:
            if self.writer.is_closing():
                raise ConnectionResetError("connection closed")
            self.writer.write(data)
            await self.writer.drain()

    async def _reject(self, frame: Frame, code: ErrorCode, message: str) -> None:
        _LOGGER.warning(
            "[%s] %s %s/%s: %s", self.peer, code.value, frame.device_id, frame.request_id, message
        )
        device_id = frame.device_id
        await self._send(
            error_frame(code, message, device_id=device_id, request_id=frame.request_id)
        )

    async def _subscribe_turn(self, frame: Frame) -> None:
        """TURN from the gateway: send end-of-turn verdicts for this chunked request."""
        request = self._requests.get(frame.request_id)
        if request is None or request.chunked is None or request.task is not None:
            await self._reject(frame, ErrorCode.UNKNOWN_REQUEST, "no chunked request in flight")
            return
        if self.turn is None:  # no opinion, ever: the gateway keeps its fixed hang-over
            self._send_turn(request, TurnVerdict(None, 0, TURN_DISABLED))
            return
        request.chunked.on_turn = partial(self._send_turn, request)

    def _send_turn(self, request: _Request, verdict: TurnVerdict) -> None:
        """A TURN frame for a chunked request still being spoken (written by a task)."""
        if request.task is not None or self._requests.get(request.info.request_id) is not request:
            return
        info = request.info
        frame = Frame(info.device_id, request.rate, info.request_id, FrameKind.TURN)
        frame.payload = verdict.to_json()
        task = asyncio.create_task(self._send(frame))
        task.add_done_callback(_consume_exception)

    def _reject_soon(self, frame: Frame, code: ErrorCode, message: str) -> None:
        """Reject from synchronous code: the ERROR frame is written by a task."""
        task = asyncio.create_task(self._reject(frame, code, message))
        task.add_done_callback(_consume_exception)

    async def _fail(self, code: ErrorCode, message: str) -> None:
        """Connection-level error: one ERROR frame, then the connection closes."""
        _LOGGER.warning("[%s] closing: %s: %s", self.peer, code.value, message)
        with contextlib.suppress(ConnectionError):
            await self._send(error_frame(code, message))

    async def _shutdown(self) -> None:
        tasks = []
        for request in list(self._requests.values()):
            request.cancel.set()
            if request.chunked is not None:
                request.chunked.close()
            if request.task is not None:
                request.task.cancel()
                tasks.append(request.task)
        self._requests.clear()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def _consume_exception(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _LOGGER.debug("could not send error frame: %s", task.exception())
