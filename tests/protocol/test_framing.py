"""The gateway <-> AI server framing: the basic form byte for byte, extensions, and bad input."""

from __future__ import annotations

import asyncio

import pytest

from naila_protocol.framing import (
    ErrorCode,
    Frame,
    FrameError,
    FrameKind,
    ReplySummary,
    encode_frame,
    error_frame,
    max_audio_bytes,
    parse_header,
    read_frame,
)


def reader_with(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_basic_form_is_byte_exact() -> None:
    frame = Frame("living_room", 48000, "req_abc123", payload=b"\x01\x00" * 48000)
    assert encode_frame(frame)[:35] == b"living_room|96000|48000|req_abc123\n"


async def test_basic_frame_round_trip() -> None:
    body = bytes(range(256)) * 375
    frame = await read_frame(reader_with(b"living_room|96000|48000|req_abc123\n" + body))
    assert frame == Frame("living_room", 48000, "req_abc123", FrameKind.BASIC, body)


async def test_extension_frames_round_trip() -> None:
    summary = ReplySummary(transcript="turn on the light", reply="Done.", timings={"stt_ms": 120})
    frames = [
        Frame("kitchen", 16000, "r1", FrameKind.CHUNK, b"\x00\x00" * 320),
        Frame("kitchen", 16000, "r1", FrameKind.FINAL, b""),
        Frame("kitchen", 16000, "r1", FrameKind.END, summary.to_json()),
        Frame("cam_1", 0, "f7", FrameKind.VIDEO, b"\xff\xd8jpeg"),
    ]
    reader = reader_with(b"".join(encode_frame(f) for f in frames))
    assert [await read_frame(reader) for _ in frames] == frames
    assert await read_frame(reader) is None
    assert ReplySummary.from_frame(frames[2]) == summary


async def test_error_frame_carries_code_and_message() -> None:
    frame = await read_frame(reader_with(encode_frame(error_frame(ErrorCode.TOO_LARGE, "big"))))
    assert frame is not None and frame.kind is FrameKind.ERROR
    assert frame.json() == {"code": "too_large", "message": "big"}


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (b"living_room|96000|48000\n", ErrorCode.BAD_HEADER),
        (b"living room|2|48000|r1\n", ErrorCode.BAD_HEADER),
        (b"a/b|2|48000|r1\n", ErrorCode.BAD_HEADER),
        (b"dev|-2|48000|r1\n", ErrorCode.BAD_LENGTH),
        (b"dev|abc|48000|r1\n", ErrorCode.BAD_LENGTH),
        (b"dev|3|48000|r1\n", ErrorCode.BAD_LENGTH),
        (b"dev|2|12345|r1\n", ErrorCode.BAD_SAMPLE_RATE),
        (b"dev|2|48000|r1|teleport\n", ErrorCode.BAD_KIND),
        (b"\xff\xfe|2|48000|r1\n", ErrorCode.BAD_HEADER),
    ],
)
def test_bad_headers_are_rejected_with_a_code(header: bytes, code: ErrorCode) -> None:
    with pytest.raises(FrameError) as err:
        parse_header(header)
    assert err.value.code is code


def test_length_over_thirty_seconds_is_refused_before_reading() -> None:
    limit = max_audio_bytes(16000)
    assert parse_header(f"dev|{limit}|16000|r1\n".encode()).length == limit
    with pytest.raises(FrameError) as err:
        parse_header(f"dev|{limit + 2}|16000|r1\n".encode())
    assert err.value.code is ErrorCode.TOO_LARGE


async def test_truncated_body_is_reported() -> None:
    with pytest.raises(FrameError) as err:
        await read_frame(reader_with(b"dev|100|16000|r1\n" + b"\x00" * 10))
    assert err.value.code is ErrorCode.TRUNCATED


async def test_runaway_header_without_newline_is_refused() -> None:
    with pytest.raises(FrameError) as err:
        await read_frame(reader_with(b"x" * 100_000))
    assert err.value.code in (ErrorCode.BAD_HEADER, ErrorCode.TRUNCATED)


def test_reply_summary_carries_the_route_only_when_routed() -> None:
    plain = ReplySummary(transcript="hi", reply="Hello.")
    assert b"route" not in plain.to_json()
    routed = ReplySummary(
        transcript="turn off the lights",
        reply="Turned off the lights",
        timings={"ha_ms": 12.5},
        route="ha",
        route_reason="handled",
    )
    frame = Frame("den", 16000, "r1", FrameKind.END, routed.to_json())
    assert ReplySummary.from_frame(frame) == routed
