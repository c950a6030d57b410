"""One gateway connection on the audio socket: requests multiplexed by request_id."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from naila_protocol.framing import (
    NO_REQUEST,
    TURN_DISABLED,
    ErrorCode,
    Frame,
    FrameError,
    FrameKind,
    ReplySummary,
    TurnSubscription,
    TurnVerdict,
    error_frame,
    max_audio_bytes,
    read_frame,
)
from naila_protocol.settings import setting
from naila_protocol.tasks import TaskSet, cancel_and_wait

from .frame_writer import FrameWriter
from .pipeline import Pipeline, PipelineEvent, RequestInfo
from .request_replies import ReplyWriter, Request, RequestObserver
from .routing.router import HaRouter
from .routing.stage import route_reply
from .speculative import ChunkedUtterance, SpeculationSettings
from .turn_detector import TurnDetector, TurnSignals

_LOGGER = logging.getLogger(__name__)

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
        self.pipeline = pipeline
        self.limits = limits
        self.speculation = speculation
        self.video_handler = video_handler
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.frames = FrameWriter(writer, self.peer)
        self.replies = ReplyWriter(
            self.frames,
            pipeline,
            request_timeout_s=limits.request_timeout_s,
            on_finished=self._forget,
            observer=observer,
        )
        self._requests: dict[str, Request] = {}
        self._cleanup = TaskSet(_LOGGER)
        """Speculations of requests that ended, finishing their cancellation."""

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
            await self.frames.fail(ErrorCode.TIMEOUT, "no AUTH frame received")
            return False
        except FrameError as err:
            await self.frames.fail(err.code, err.message)
            return False
        token = self.limits.auth_token or ""
        if (
            frame is None
            or frame.kind is not FrameKind.AUTH
            or not hmac.compare_digest(frame.payload, token.encode())
        ):
            await self.frames.fail(
                ErrorCode.UNAUTHORIZED, "first frame must be AUTH with the token"
            )
            return False
        await self.frames.send(Frame(NO_REQUEST, 0, NO_REQUEST, FrameKind.AUTH_OK))
        return True

    async def _read_loop(self) -> None:
        timeout = self.limits.first_frame_timeout_s
        while True:
            try:
                frame = await read_frame(self.reader, timeout or None)
            except TimeoutError:
                if self._requests:
                    continue  # waiting on our own replies is not idleness
                await self.frames.fail(ErrorCode.TIMEOUT, f"no frame for {timeout:.0f} s")
                return
            except FrameError as err:
                if err.fatal:
                    await self.frames.fail(err.code, err.message)
                    return
                _LOGGER.warning(
                    "[%s] %s: %s (%s)", self.peer, err.code, err.message, err.request_id
                )
                await self.frames.send(
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
        elif kind in (FrameKind.TURN, FrameKind.PARTIAL):
            await self._subscribe(frame)
        elif kind is FrameKind.PING:
            pass  # a frame: the idle timer starts again
        elif kind is FrameKind.AUTH:
            await self.frames.send(Frame(NO_REQUEST, 0, NO_REQUEST, FrameKind.AUTH_OK))
        elif kind is FrameKind.ERROR:
            _LOGGER.warning("[%s] peer reported an error: %r", self.peer, frame.payload[:200])
        else:
            await self.frames.reject(
                frame, ErrorCode.BAD_KIND, f"{kind.value} frames are server-to-gateway"
            )

    def _new_request(self, frame: Frame) -> Request | None:
        if frame.request_id == NO_REQUEST:
            self.frames.reject_soon(frame, ErrorCode.BAD_HEADER, "a request needs a request_id")
            return None
        if frame.request_id in self._requests:
            self.frames.reject_soon(frame, ErrorCode.BAD_HEADER, "request_id already in flight")
            return None
        if len(self._requests) >= self.limits.max_requests:
            self.frames.reject_soon(frame, ErrorCode.BUSY, "too many requests in flight")
            return None
        request = Request(
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
                self.frames.reject_soon(frame, ErrorCode.BAD_HEADER, "speak body is not UTF-8")
                return
            events = self.replies.speak_events(text, request)
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
            request.expiry = asyncio.get_running_loop().call_later(
                self.limits.request_timeout_s, self._expire_chunked, request
            )
        if request.chunked is None or request.task is not None or frame.sample_rate != request.rate:
            self.frames.reject_soon(
                frame, ErrorCode.BAD_HEADER, "chunk does not continue an open chunked request"
            )
            return
        if len(request.chunked.audio) + len(frame.payload) > max_audio_bytes(request.rate):
            self._drop(request)
            self.frames.reject_soon(frame, ErrorCode.TOO_LARGE, "utterance longer than the limit")
            return
        request.chunked.add(frame.payload)

    def _final(self, frame: Frame) -> None:
        request = self._requests.get(frame.request_id)
        if request is None:
            self._start(frame)  # a FINAL without CHUNKs is a whole streamed utterance
            return
        if request.chunked is None or request.task is not None or frame.sample_rate != request.rate:
            self.frames.reject_soon(
                frame, ErrorCode.BAD_HEADER, "final does not close an open chunked request"
            )
            return
        if len(request.chunked.audio) + len(frame.payload) > max_audio_bytes(request.rate):
            self._drop(request)
            self.frames.reject_soon(frame, ErrorCode.TOO_LARGE, "utterance longer than the limit")
            return
        request.ended_at = time.perf_counter()
        if request.expiry is not None:
            request.expiry.cancel()
        self._launch(request, request.chunked.finish(frame.payload))

    def _expire_chunked(self, request: Request) -> None:
        """A chunked utterance whose FINAL never came: drop it and say so."""
        if request.task is not None or self._requests.get(request.info.request_id) is not request:
            return
        self._drop(request)
        info = request.info
        frame = Frame(info.device_id, request.rate, info.request_id, FrameKind.CHUNK)
        self.frames.reject_soon(frame, ErrorCode.TIMEOUT, "no FINAL within the request timeout")

    async def _cancel(self, frame: Frame) -> None:
        request = self._requests.get(frame.request_id)
        if request is None:
            await self.frames.reject(frame, ErrorCode.UNKNOWN_REQUEST, "no such request in flight")
            return
        _LOGGER.info("[%s] cancel %s", self.peer, frame.request_id)
        request.cancel.set()
        if request.task is None:  # chunked request still being spoken
            self._drop(request)
            await self.replies.send_end(request, ReplySummary(status="cancelled"))

    async def _video(self, frame: Frame) -> None:
        if self.video_handler is None:
            await self.frames.reject(frame, ErrorCode.BAD_KIND, "this server has no vision")
            return
        try:
            await self.video_handler(frame.device_id, frame.request_id, frame.payload)
        except Exception:
            _LOGGER.exception("[%s] video handler failed", self.peer)

    def _launch(self, request: Request, events: AsyncIterator[PipelineEvent]) -> None:
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
        reply = self.replies.whole if request.kind is FrameKind.BASIC else self.replies.stream
        request.task = asyncio.create_task(
            reply(request, events), name=f"request {request.info.request_id}"
        )

    async def _subscribe(self, frame: Frame) -> None:
        """TURN / PARTIAL from the gateway: send end-of-turn verdicts / partial transcripts of
        this chunked request at its pauses."""
        request = self._requests.get(frame.request_id)
        if request is None or request.chunked is None or request.task is not None:
            await self.frames.reject(
                frame, ErrorCode.UNKNOWN_REQUEST, "no chunked request in flight"
            )
            return
        if frame.kind is FrameKind.PARTIAL:
            request.chunked.on_partial = lambda p: self._send_soon(request, frame.kind, p.to_json())
            return
        try:
            subscription = TurnSubscription.from_frame(frame)
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            await self.frames.reject(frame, ErrorCode.BAD_HEADER, f"bad turn body: {err}")
            return
        if self.turn is None:  # no opinion, ever: the gateway keeps its fixed hang-over
            self._send_soon(request, frame.kind, TurnVerdict(None, 0, TURN_DISABLED).to_json())
            return
        if subscription.signals is not None:  # the gateway judges the audio itself
            request.chunked.turn_signals = TurnSignals(subscription.signals)
        request.chunked.on_turn = lambda v: self._send_soon(request, frame.kind, v.to_json())

    def _send_soon(self, request: Request, kind: FrameKind, body: bytes) -> None:
        """A frame for a chunked request still being spoken (written by an owned task)."""
        if request.task is not None or self._requests.get(request.info.request_id) is not request:
            return
        info = request.info
        self.frames.send_soon(Frame(info.device_id, request.rate, info.request_id, kind, body))

    def _forget(self, request: Request) -> None:
        """The request is over: out of the table, its timer and speculation stopped."""
        self._requests.pop(request.info.request_id, None)
        request.release()
        if request.chunked is not None:
            self._cleanup.spawn(request.chunked.aclose(), name="speculation cleanup")

    def _drop(self, request: Request) -> None:
        request.cancel.set()
        self._forget(request)

    async def _shutdown(self) -> None:
        requests = list(self._requests.values())
        self._requests.clear()
        for request in requests:
            request.cancel.set()
            request.release()
        await cancel_and_wait(
            [request.task for request in requests if request.task is not None], logger=_LOGGER
        )
        for request in requests:
            if request.chunked is not None:
                await request.chunked.aclose()
        await self._cleanup.close()
        await self.frames.close()
