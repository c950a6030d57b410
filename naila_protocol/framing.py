"""Gateway <-> AI server TCP framing (docs/protocol.md describes every frame).

Basic form, both directions::

    {device_id}|{length}|{sample_rate}|{request_id}\n  + length bytes of int16 mono LE PCM

Extensions add a fifth header field, the frame kind. A peer that sends only basic
frames only ever receives basic frames, so the basic form keeps working unchanged.
The JSON bodies of END, TURN and PARTIAL frames are `naila_protocol.frame_bodies`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from naila_protocol.frame_bodies import (
    TURN_DISABLED,
    TURN_TEXT_ONLY,
    PartialTranscript,
    ReplySummary,
    TurnSubscription,
    TurnVerdict,
)
from naila_protocol.topics import is_valid_device_id

__all__ = [
    "AUDIO_KINDS",
    "BODY_TIMEOUT_S",
    "BYTES_PER_SAMPLE",
    "DEFAULT_AUDIO_PORT",
    "HEADER_START_BYTES",
    "JSON_KINDS",
    "MAX_AUDIO_SECONDS",
    "MAX_HEADER_BYTES",
    "MAX_JSON_BYTES",
    "MAX_VIDEO_FRAME_BYTES",
    "NO_REQUEST",
    "PING_FRAME",
    "SUPPORTED_SAMPLE_RATES",
    "TURN_DISABLED",
    "TURN_TEXT_ONLY",
    "ErrorCode",
    "Frame",
    "FrameError",
    "FrameKind",
    "Header",
    "PartialTranscript",
    "ReplySummary",
    "TurnSubscription",
    "TurnVerdict",
    "encode_frame",
    "encode_header",
    "error_frame",
    "is_valid_id",
    "max_audio_bytes",
    "parse_header",
    "read_frame",
]

DEFAULT_AUDIO_PORT = 9999
"""TCP port of the AI server's audio socket (the gateway connects to it)."""
SUPPORTED_SAMPLE_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000})
MAX_AUDIO_SECONDS = 30
BYTES_PER_SAMPLE = 2
MAX_HEADER_BYTES = 512
MAX_JSON_BYTES = 64 * 1024
MAX_VIDEO_FRAME_BYTES = 4 * 1024 * 1024
HEADER_START_BYTES = frozenset(
    bytes([c]) for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-"
)
"""The first byte of every header is the first character of a device id."""
NO_REQUEST = "-"
"""request_id placeholder in frames not tied to a request (auth, connection errors)."""


class FrameKind(enum.StrEnum):
    """Value of the optional fifth header field."""

    BASIC = ""
    """Four-field frame: a whole utterance in, or a whole reply out."""
    STREAM = "stream"
    """Gateway -> server: a whole utterance; reply with AUDIO frames and END."""
    CHUNK = "chunk"
    """Gateway -> server: part of an utterance still being spoken."""
    FINAL = "final"
    """Gateway -> server: last part of a chunked utterance; the request is complete."""
    AUDIO = "audio"
    """Server -> gateway: one piece of a streamed reply (PCM)."""
    END = "end"
    """Server -> gateway: end of a streamed reply; JSON body (see ReplySummary)."""
    CANCEL = "cancel"
    """Gateway -> server: stop the request (barge-in, or discard a speculative utterance)."""
    ERROR = "error"
    """Either way: JSON body {"code", "message"}."""
    VIDEO = "video"
    """Gateway -> server: one JPEG frame from a camera (sample_rate field is 0)."""
    SPEAK = "speak"
    """Gateway -> server: UTF-8 text to speak on the device (announce); reply as for STREAM."""
    AUTH = "auth"
    """Gateway -> server, first frame when a token is configured; body is the token."""
    AUTH_OK = "auth_ok"
    """Server -> gateway: the token was accepted."""
    PING = "ping"
    """Gateway -> server (empty, ids `-`): keeps an idle connection open; nothing answers it."""
    TURN = "turn"
    """Gateway -> server (empty): send verdicts for this chunked request; server -> gateway,
    at each pause of it: is the turn over? (TurnVerdict)."""
    PARTIAL = "partial"
    """Gateway -> server (empty): send partial transcripts of this chunked request; server ->
    gateway, at a pause of it: the speculative transcript so far (PartialTranscript)."""


AUDIO_KINDS = frozenset(
    {FrameKind.BASIC, FrameKind.STREAM, FrameKind.CHUNK, FrameKind.FINAL, FrameKind.AUDIO}
)
JSON_KINDS = frozenset({FrameKind.END, FrameKind.ERROR, FrameKind.TURN, FrameKind.PARTIAL})


class ErrorCode(enum.StrEnum):
    """Codes carried in ERROR frames."""

    BAD_HEADER = "bad_header"
    BAD_LENGTH = "bad_length"
    TOO_LARGE = "too_large"
    BAD_SAMPLE_RATE = "bad_sample_rate"
    TRUNCATED = "truncated"
    BAD_KIND = "bad_kind"
    UNAUTHORIZED = "unauthorized"
    BUSY = "busy"
    TIMEOUT = "timeout"
    INTERNAL = "internal"
    UNKNOWN_REQUEST = "unknown_request"


class FrameError(Exception):
    """A frame that cannot be accepted; `code` goes into the ERROR frame."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        fatal: bool = True,
        device_id: str = NO_REQUEST,
        request_id: str = NO_REQUEST,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal
        """True when the byte stream can no longer be trusted and the connection must close."""
        self.device_id = device_id
        self.request_id = request_id
        """Ids of the rejected frame when it had trustworthy ones (non-fatal errors)."""


@dataclass(slots=True)
class Header:
    device_id: str
    length: int
    sample_rate: int
    request_id: str
    kind: FrameKind = FrameKind.BASIC


@dataclass(slots=True)
class Frame:
    device_id: str
    sample_rate: int
    request_id: str
    kind: FrameKind = FrameKind.BASIC
    payload: bytes = b""

    def json(self) -> dict[str, Any]:
        """Decode the JSON body of END/ERROR frames."""
        value = json.loads(self.payload.decode("utf-8")) if self.payload else {}
        if not isinstance(value, dict):
            raise ValueError("frame body is not a JSON object")
        return value


def is_valid_id(value: str) -> bool:
    """device_id / request_id: the same rule as an MQTT device-id topic level."""
    return is_valid_device_id(value)


def max_audio_bytes(sample_rate: int) -> int:
    """Largest accepted PCM body: MAX_AUDIO_SECONDS at this rate."""
    return MAX_AUDIO_SECONDS * sample_rate * BYTES_PER_SAMPLE


def encode_header(header: Header) -> bytes:
    fields = [header.device_id, str(header.length), str(header.sample_rate), header.request_id]
    if header.kind is not FrameKind.BASIC:
        fields.append(header.kind.value)
    return ("|".join(fields) + "\n").encode("ascii")


def encode_frame(frame: Frame) -> bytes:
    header = Header(
        frame.device_id, len(frame.payload), frame.sample_rate, frame.request_id, frame.kind
    )
    return encode_header(header) + frame.payload


PING_FRAME = Frame(NO_REQUEST, 0, NO_REQUEST, FrameKind.PING)
"""The keepalive frame: `-|0|0|-|ping`."""


def error_frame(
    code: ErrorCode, message: str, *, device_id: str = NO_REQUEST, request_id: str = NO_REQUEST
) -> Frame:
    body = json.dumps({"code": code.value, "message": message}).encode()
    return Frame(device_id, 0, request_id, FrameKind.ERROR, body)


def parse_header(line: bytes) -> Header:
    """Parse and validate one header line (with or without its trailing newline)."""
    try:
        text = line.rstrip(b"\n").rstrip(b"\r").decode("ascii")
    except UnicodeDecodeError:
        raise FrameError(ErrorCode.BAD_HEADER, "header is not ASCII") from None
    parts = text.split("|")
    if len(parts) not in (4, 5):
        raise FrameError(ErrorCode.BAD_HEADER, f"header needs 4 or 5 '|' fields, got {len(parts)}")
    device_id, length_text, rate_text, request_id = parts[:4]
    try:
        kind = FrameKind(parts[4]) if len(parts) == 5 else FrameKind.BASIC
    except ValueError:
        raise FrameError(ErrorCode.BAD_KIND, f"unknown frame kind {parts[4]!r}") from None
    if not is_valid_id(device_id) and not (
        kind in (FrameKind.ERROR, FrameKind.AUTH, FrameKind.AUTH_OK, FrameKind.PING)
        and device_id == NO_REQUEST
    ):
        raise FrameError(ErrorCode.BAD_HEADER, "invalid device_id")
    if not (is_valid_id(request_id) or request_id == NO_REQUEST):
        raise FrameError(ErrorCode.BAD_HEADER, "invalid request_id")
    if not length_text.isdigit():
        raise FrameError(
            ErrorCode.BAD_LENGTH, f"length {length_text!r} is not a non-negative integer"
        )
    if not rate_text.isdigit():
        raise FrameError(ErrorCode.BAD_SAMPLE_RATE, f"sample rate {rate_text!r} is not an integer")
    length, rate = int(length_text), int(rate_text)
    if kind in AUDIO_KINDS or kind is FrameKind.SPEAK:
        if rate not in SUPPORTED_SAMPLE_RATES:
            raise FrameError(ErrorCode.BAD_SAMPLE_RATE, f"unsupported sample rate {rate}")
        limit = max_audio_bytes(rate) if kind in AUDIO_KINDS else MAX_JSON_BYTES
        if kind in AUDIO_KINDS and length % BYTES_PER_SAMPLE:
            raise FrameError(ErrorCode.BAD_LENGTH, "length is not a whole number of int16 samples")
    elif kind is FrameKind.VIDEO:
        limit = MAX_VIDEO_FRAME_BYTES
    else:
        limit = MAX_JSON_BYTES
    if length > limit:
        raise FrameError(ErrorCode.TOO_LARGE, f"length {length} exceeds the limit of {limit} bytes")
    return Header(device_id, length, rate, request_id, kind)


BODY_TIMEOUT_S = 30.0
"""Longest a started frame body may take to arrive before the sender is cut off."""

_RECOVERABLE = frozenset({ErrorCode.BAD_SAMPLE_RATE, ErrorCode.BAD_KIND})
_SKIP_LIMIT = max(max_audio_bytes(max(SUPPORTED_SAMPLE_RATES)), MAX_VIDEO_FRAME_BYTES)
_SKIP_CHUNK = 64 * 1024


async def read_frame(
    reader: asyncio.StreamReader,
    header_timeout_s: float | None = None,
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> Frame | None:
    """Read one frame; None on a clean end of stream between frames.

    The header is validated before any of the body is read, so an oversized length never
    allocates memory. Raises FrameError for anything malformed: fatal when the stream can
    no longer be trusted; non-fatal (body skipped, ids set) when a well-formed header names an
    unsupported sample rate or kind, so one device's bad frame leaves a shared connection open.
    `header_timeout_s` bounds the wait for the next header's first byte (TimeoutError, nothing
    consumed); the rest of a started header must arrive within `body_timeout_s`.
    """
    async with asyncio.timeout(header_timeout_s):
        try:
            first = await reader.readexactly(1)
        except asyncio.IncompleteReadError:
            return None
    if first not in HEADER_START_BYTES:
        # Binary data or a TLS ClientHello (0x16): refuse at once instead of waiting for a
        # newline that may never come.
        raise FrameError(
            ErrorCode.BAD_HEADER,
            f"byte 0x{first[0]:02x} cannot start a header (binary data or TLS?)",
        )
    try:
        async with _body_deadline(body_timeout_s):  # a started header must finish promptly
            line = first + await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise FrameError(ErrorCode.TRUNCATED, "connection closed inside a header") from None
    except asyncio.LimitOverrunError:
        raise FrameError(ErrorCode.BAD_HEADER, "header line too long") from None
    if len(line) > MAX_HEADER_BYTES:
        raise FrameError(ErrorCode.BAD_HEADER, "header line too long")
    try:
        header = parse_header(line)
    except FrameError as err:
        skip = _skippable(line, err)
        if skip is None:
            raise
        device_id, length, request_id = skip
        async with _body_deadline(body_timeout_s):
            await _discard(reader, length)
        raise FrameError(
            err.code, err.message, fatal=False, device_id=device_id, request_id=request_id
        ) from None
    try:
        async with _body_deadline(body_timeout_s):
            payload = await reader.readexactly(header.length) if header.length else b""
    except asyncio.IncompleteReadError as err:
        raise FrameError(
            ErrorCode.TRUNCATED, f"body truncated: {len(err.partial)} of {header.length} bytes"
        ) from None
    return Frame(header.device_id, header.sample_rate, header.request_id, header.kind, payload)


@contextlib.asynccontextmanager
async def _body_deadline(seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise FrameError(ErrorCode.TIMEOUT, "frame body stalled") from None


def _skippable(line: bytes, err: FrameError) -> tuple[str, int, str] | None:
    """(device_id, length, request_id) when a rejected frame's body can be skipped safely."""
    if err.code not in _RECOVERABLE:
        return None
    parts = line.rstrip(b"\r\n").decode("ascii", "replace").split("|")
    if len(parts) not in (4, 5) or not parts[1].isdigit():
        return None
    device_id, length, request_id = parts[0], int(parts[1]), parts[3]
    if not is_valid_id(device_id) or not is_valid_id(request_id) or length > _SKIP_LIMIT:
        return None
    return device_id, length, request_id


async def _discard(reader: asyncio.StreamReader, length: int) -> None:
    remaining = length
    try:
        while remaining:
            remaining -= len(await reader.readexactly(min(remaining, _SKIP_CHUNK)))
    except asyncio.IncompleteReadError:
        raise FrameError(ErrorCode.TRUNCATED, "body truncated") from None
