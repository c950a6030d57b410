"""The AI-server client: one TCP connection carrying every device's requests (by request_id)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from naila_protocol.framing import (
    NO_REQUEST,
    PING_FRAME,
    ErrorCode,
    Frame,
    FrameError,
    FrameKind,
    encode_frame,
    read_frame,
)
from naila_protocol.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)
STABLE_CONNECTION_S = 5.0
"""A connection that lasted this long ends an outage; a shorter one does not reset the backoff."""


class RequestListener:
    """What a pending request is told; the gateway's voice sessions implement it."""

    def on_reply_frame(self, frame: Frame) -> None:
        """AUDIO/END/ERROR/basic reply frame for this request."""

    def on_request_failed(self, request_id: str, reason: str) -> None:
        """'server_unavailable' (connection lost) or 'reply_timeout'."""


@dataclass(slots=True)
class _Pending:
    listener: RequestListener
    timer: asyncio.TimerHandle | None = None
    awaiting_reply: bool = False


class Retry:
    """Delays between connection attempts: `initial` for the first `fast_s` seconds after the
    link went down (a restarting server is found the moment it listens), then doubling up
    to `maximum` (a server that stays down is not hammered)."""

    def __init__(self, initial: float, maximum: float, fast_s: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.fast_s = fast_s
        self._down_since: float | None = None
        self._delay = initial

    def reset(self) -> None:
        """Connected: the next outage starts with fast retries again."""
        self._down_since = None
        self._delay = self.initial

    def next_delay(self, now: float) -> float:
        if self._down_since is None:
            self._down_since = now
        if now - self._down_since < self.fast_s:
            return self.initial
        delay, self._delay = self._delay, min(self._delay * 2, self.maximum)
        return delay


class ServerClient:
    """Connects with retry and backoff, multiplexes requests, times out silent replies.

    `addresses` are tried in order on every (re)connect: the first that accepts (and takes
    the token) serves until its connection drops, then the list is tried again from the top
    at once (a standby takes over; the requests in flight are failed as
    'server_unavailable'). A restarted first server does not take the link back while a
    standby serves: the next drop does.
    `send()` never waits for a connection: while no server is up it returns False and the
    caller drops the utterance. Frames for unknown (cancelled, finished) requests are ignored.
    """

    def __init__(
        self,
        addresses: Sequence[tuple[str, int]],
        *,
        token: str | None = None,
        reply_timeout: float = 10.0,
        keepalive: float = 5.0,
        backoff_initial: float = 0.25,
        backoff_max: float = 5.0,
        fast_retry_s: float = 30.0,
        on_connection_change: Callable[[bool], None] | None = None,
    ) -> None:
        if not addresses:
            raise ValueError("ServerClient needs at least one AI server address")
        self.addresses = list(addresses)
        self.host, self.port = self.addresses[0]
        """The address of the current (or last) connection."""
        self.token = token
        self.reply_timeout = reply_timeout
        self.keepalive = keepalive
        self.retry = Retry(backoff_initial, backoff_max, fast_retry_s)
        self._on_connection_change = on_connection_change
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._pending: dict[str, _Pending] = {}
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def wait_connected(self) -> None:
        await self._connected.wait()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="naila-ai-server-client")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task], logger=_LOGGER)
        self._fail_all("server_unavailable", notify=False)

    # requests -------------------------------------------------------------------------
    def register(self, request_id: str, listener: RequestListener) -> None:
        """Route this request's reply frames to `listener`."""
        self._pending[request_id] = _Pending(listener)

    def forget(self, request_id: str) -> None:
        pending = self._pending.pop(request_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def is_pending(self, request_id: str) -> bool:
        return request_id in self._pending

    async def send(self, frame: Frame, *, expects_reply: bool = False) -> bool:
        """Write one frame; False when not connected. `expects_reply` starts the reply timer."""
        writer = self._writer
        if writer is None:
            return False
        try:
            async with self._write_lock:
                writer.write(encode_frame(frame))
                await writer.drain()
        except (ConnectionError, OSError) as err:
            _LOGGER.warning("AI server write failed: %s", err)
            writer.close()
            return False
        if expects_reply:
            self._arm_timer(frame.request_id)
        return True

    async def cancel(self, device_id: str, request_id: str) -> None:
        """Tell the server to stop a request and stop routing its frames."""
        self.forget(request_id)
        await self.send(Frame(device_id, 0, request_id, FrameKind.CANCEL))

    def _arm_timer(self, request_id: str) -> None:
        pending = self._pending.get(request_id)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        pending.awaiting_reply = True
        loop = asyncio.get_running_loop()
        pending.timer = loop.call_later(self.reply_timeout, self._timed_out, request_id)

    def _timed_out(self, request_id: str) -> None:
        pending = self._pending.pop(request_id, None)
        if pending is not None:
            _LOGGER.warning("request %s: no reply within %.1f s", request_id, self.reply_timeout)
            pending.listener.on_request_failed(request_id, "reply_timeout")

    # connection -----------------------------------------------------------------------
    async def _run(self) -> None:
        last: tuple[str, int] | None = None  # set right after a stable connection dropped
        while True:
            opened = await self._open(last_resort=last)
            last = None
            if opened is None:
                await asyncio.sleep(self.retry.next_delay(time.monotonic()))
                continue
            reader, writer = opened
            connected_at: float | None = None
            try:
                if await self._authenticate(reader, writer):
                    connected_at = time.monotonic()
                    self._set_connected(writer)
                    pinger = asyncio.create_task(self._keep_alive(), name="ai-server keepalive")
                    try:
                        await self._read_loop(reader)
                    finally:
                        await cancel_and_wait([pinger], logger=_LOGGER)
            except (ConnectionError, OSError) as err:
                _LOGGER.warning("AI server connection lost: %s", err)
            finally:
                was_connected = self._writer is not None
                self._writer = None
                self._connected.clear()
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
                if was_connected and not self._stopping:
                    _LOGGER.warning("AI server %s:%d disconnected; reconnecting", *self.address)
                    self._fail_all("server_unavailable", notify=True)
                    if self._on_connection_change:
                        self._on_connection_change(False)
            now = time.monotonic()
            if connected_at is not None and now - connected_at >= STABLE_CONNECTION_S:
                # a new outage: try the list again at once, the address that dropped last (a
                # dying server may still accept for a moment: a standby takes over now), then
                # fast retries; a flapping server gets neither
                self.retry.reset()
                last = self.address
                continue
            await asyncio.sleep(self.retry.next_delay(now))

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def _open(
        self, *, last_resort: tuple[str, int] | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A TCP connection to the first address that accepts one (None: none did);
        `last_resort` is tried after the others."""
        order = [a for a in self.addresses if a != last_resort]
        order += [a for a in self.addresses if a == last_resort]
        for host, port in order:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as err:
                _LOGGER.debug("AI server %s:%d not reachable: %s", host, port, err)
                continue
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.host, self.port = host, port
            return reader, writer
        return None

    async def _keep_alive(self) -> None:
        """A PING at once (the server wants a first frame soon) and every `keepalive` s: the
        server closes connections that stay silent, an idle gateway must not look dead."""
        while True:
            if not await self.send(PING_FRAME):
                return
            await asyncio.sleep(self.keepalive)

    def _set_connected(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._connected.set()
        _LOGGER.info("connected to AI server %s:%d", self.host, self.port)
        if self._on_connection_change:
            self._on_connection_change(True)

    async def _authenticate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if not self.token:
            return True
        writer.write(
            encode_frame(Frame(NO_REQUEST, 0, NO_REQUEST, FrameKind.AUTH, self.token.encode()))
        )
        await writer.drain()
        try:
            frame = await asyncio.wait_for(read_frame(reader), 10)
        except (TimeoutError, FrameError) as err:
            _LOGGER.error("AI server authentication failed: %s", err)
            return False
        if frame is not None and frame.kind is FrameKind.AUTH_OK:
            return True
        _LOGGER.error("AI server refused the token: %r", frame.payload[:200] if frame else None)
        return False

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                frame = await read_frame(reader)
            except FrameError as err:
                _LOGGER.error("bad frame from AI server (%s): %s", err.code, err.message)
                if err.fatal:
                    return
                continue
            if frame is None:
                return
            self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        pending = self._pending.get(frame.request_id)
        if pending is None:
            if (
                frame.kind is FrameKind.ERROR
                and error_code_of(frame)[0] != ErrorCode.UNKNOWN_REQUEST
            ):
                _LOGGER.warning("AI server error for %s: %r", frame.request_id, frame.payload[:300])
            else:
                _LOGGER.debug(
                    "ignoring %s frame for unknown request %s",
                    frame.kind or "basic",
                    frame.request_id,
                )
            return
        final = frame.kind in (FrameKind.END, FrameKind.ERROR, FrameKind.BASIC)
        if final:
            self.forget(frame.request_id)
        elif pending.awaiting_reply:
            self._arm_timer(frame.request_id)
        try:
            pending.listener.on_reply_frame(frame)
        except Exception:
            _LOGGER.exception("reply handler failed for request %s", frame.request_id)

    def _fail_all(self, reason: str, *, notify: bool) -> None:
        pending, self._pending = self._pending, {}
        for request_id, item in pending.items():
            if item.timer is not None:
                item.timer.cancel()
            if notify:
                try:
                    item.listener.on_request_failed(request_id, reason)
                except Exception:
                    _LOGGER.exception("failure handler failed for request %s", request_id)


def error_code_of(frame: Frame) -> tuple[str, str]:
    """(code, message) of an ERROR frame, tolerant of a malformed body."""
    try:
        body = frame.json()
        return str(body.get("code", ErrorCode.INTERNAL.value)), str(body.get("message", ""))
    except (ValueError, UnicodeDecodeError):
        return ErrorCode.INTERNAL.value, frame.payload[:200].decode("utf-8", "replace")
