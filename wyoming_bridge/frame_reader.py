"""Server-side frame reading that keeps a connection alive after a recoverable error.

`naila_protocol.framing.read_frame` treats every bad frame as fatal. A frame whose
header is well formed except for an unsupported sample rate or an unknown kind has a
trustworthy length, so the server skips its body, answers with an ERROR frame and keeps
serving the other devices multiplexed on the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from naila_protocol.framing import (
    MAX_HEADER_BYTES,
    MAX_VIDEO_FRAME_BYTES,
    SUPPORTED_SAMPLE_RATES,
    ErrorCode,
    Frame,
    FrameError,
    is_valid_id,
    max_audio_bytes,
    parse_header,
)

_RECOVERABLE = frozenset({ErrorCode.BAD_SAMPLE_RATE, ErrorCode.BAD_KIND})
_SKIP_LIMIT = max(max_audio_bytes(max(SUPPORTED_SAMPLE_RATES)), MAX_VIDEO_FRAME_BYTES)
_SKIP_CHUNK = 64 * 1024


class RecoverableFrameError(FrameError):
    """A rejected frame whose body was skipped; the connection stays usable."""

    def __init__(self, error: FrameError, device_id: str, request_id: str) -> None:
        super().__init__(error.code, error.message, fatal=False)
        self.device_id = device_id
        self.request_id = request_id


BODY_TIMEOUT_S = 30.0
"""Longest a started frame body may take to arrive (a stalled sender is cut off)."""


async def read_frame_lenient(
    reader: asyncio.StreamReader, header_timeout_s: float | None = None
) -> Frame | None:
    """Like framing.read_frame, but raises RecoverableFrameError when it can resync.

    `header_timeout_s` bounds the wait for the next header (TimeoutError, nothing consumed);
    once a header has arrived its body must follow within BODY_TIMEOUT_S.
    """
    try:
        async with asyncio.timeout(header_timeout_s):
            line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
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
        async with _body_deadline():
            await _discard(reader, length)
        raise RecoverableFrameError(err, device_id, request_id) from None
    try:
        async with _body_deadline():
            payload = await reader.readexactly(header.length) if header.length else b""
    except asyncio.IncompleteReadError as err:
        raise FrameError(
            ErrorCode.TRUNCATED, f"body truncated: {len(err.partial)} of {header.length} bytes"
        ) from None
    return Frame(header.device_id, header.sample_rate, header.request_id, header.kind, payload)


@contextlib.asynccontextmanager
async def _body_deadline() -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            yield
    except TimeoutError:
        raise FrameError(ErrorCode.TIMEOUT, "frame body stalled") from None


def _skippable(line: bytes, err: FrameError) -> tuple[str, int, str] | None:
    """(device_id, length, request_id) when the body can be skipped safely."""
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
