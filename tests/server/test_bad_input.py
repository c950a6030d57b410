"""Every kind of bad input on the audio socket: an ERROR frame or a clean close, never a crash."""

from __future__ import annotations

import asyncio
import os

import pytest

from naila_protocol.framing import ErrorCode, Frame, FrameKind, max_audio_bytes
from tests.server.conftest import ServerFactory
from tests.server.wire import Gateway, connect, silence
from wyoming_bridge.app import NailaServer
from wyoming_bridge.gateway_connection import ConnectionLimits


async def error_code(gateway: Gateway) -> str:
    frame = await gateway.frame(within=10)
    assert frame is not None and frame.kind is FrameKind.ERROR, frame
    return str(frame.json()["code"])


async def still_serves(server: NailaServer, token: str | None = None) -> None:
    """A fresh connection (with AUTH first when a token is set) still gets its (empty) reply."""
    async with connect(server.port) as gateway:
        if token is not None:
            await gateway.send(Frame("-", 0, "-", FrameKind.AUTH, token.encode()))
            ok = await gateway.frame()
            assert ok is not None and ok.kind is FrameKind.AUTH_OK
        await gateway.send(Frame("check", 16000, "ok1", payload=silence(0.2, 16000)))
        reply = await gateway.frame()
    assert reply is not None and reply.request_id == "ok1"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not a header at all\n", ErrorCode.BAD_HEADER),
        (b"dev|12|16000\n", ErrorCode.BAD_HEADER),
        (b"bad device!|0|16000|r1\n", ErrorCode.BAD_HEADER),
        (b"dev|abc|16000|r1\n", ErrorCode.BAD_LENGTH),
        (b"dev|-5|16000|r1\n", ErrorCode.BAD_LENGTH),
        (b"dev|3|16000|r1\n", ErrorCode.BAD_LENGTH),
        (f"dev|{max_audio_bytes(16000) + 2}|16000|r1\n".encode(), ErrorCode.TOO_LARGE),
        (b"x" * 5000, ErrorCode.BAD_HEADER),
    ],
    ids=[
        "garbage",
        "three-fields",
        "bad-id",
        "non-numeric",
        "negative",
        "odd",
        "over-30s",
        "endless",
    ],
)
async def test_malformed_frames_get_error_and_close(
    server: NailaServer, raw: bytes, code: ErrorCode
) -> None:
    async with connect(server.port) as gateway:
        await gateway.send_raw(raw)
        assert await error_code(gateway) == code
        assert await gateway.closed()
    await still_serves(server)


TLS_CLIENT_HELLO_START = bytes.fromhex("160301020001000200fc03")


@pytest.mark.parametrize(
    "raw",
    [TLS_CLIENT_HELLO_START, b"\x00\xff\x13binary", b"\x89PNG\r\n\x1a\n", b"\n"],
    ids=["tls-client-hello", "binary", "png", "empty-line"],
)
@pytest.mark.parametrize("token", [None, "s3cret"], ids=["open", "token-required"])
async def test_bytes_that_cannot_start_a_header_close_at_once(
    make_server: ServerFactory, raw: bytes, token: str | None
) -> None:
    """No newline ever comes: the error arrives at once, not after the first-frame timeout,
    also where the first frame must be AUTH."""
    server = await make_server(
        limits=ConnectionLimits(auth_token=token, first_frame_timeout_s=60.0)
    )
    async with connect(server.port) as gateway:
        await gateway.send_raw(raw)
        async with asyncio.timeout(5):
            assert await error_code(gateway) == ErrorCode.BAD_HEADER
            assert await gateway.closed()
    await still_serves(server, token)


async def test_unsupported_rate_is_rejected_and_connection_stays(server: NailaServer) -> None:
    async with connect(server.port) as gateway:
        await gateway.send_raw(b"dev|4|12345|r1\n\x00\x00\x00\x00")
        assert await error_code(gateway) == ErrorCode.BAD_SAMPLE_RATE
        await gateway.send_raw(b"dev|0|16000|r2|warp\n")
        assert await error_code(gateway) == ErrorCode.BAD_KIND
        await gateway.send(Frame("dev", 16000, "r3", payload=silence(0.2, 16000)))
        reply = await gateway.frame()
    assert reply is not None and (reply.request_id, reply.kind) == ("r3", FrameKind.BASIC)


async def test_truncated_body_is_logged_and_closed(
    server: NailaServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(server.port) as gateway:
        await gateway.send_raw(b"dev|32000|16000|r1\n" + bytes(1000))
        gateway.writer.write_eof()
        assert await error_code(gateway) == ErrorCode.TRUNCATED
    await still_serves(server)
    assert sum("truncated" in record.getMessage() for record in caplog.records) == 1


async def test_random_bytes(server: NailaServer) -> None:
    async with connect(server.port) as gateway:
        await gateway.send_raw(os.urandom(20000))
        frame = await gateway.frame()
        assert frame is not None and frame.kind is FrameKind.ERROR
        assert await gateway.closed()
    await still_serves(server)


async def test_request_errors_do_not_close_other_devices(server: NailaServer) -> None:
    async with connect(server.port) as gateway:
        await gateway.send(Frame("a", 16000, "x1", FrameKind.CANCEL))
        assert await error_code(gateway) == ErrorCode.UNKNOWN_REQUEST
        await gateway.send(Frame("a", 16000, "x2", FrameKind.END, b"{}"))
        assert await error_code(gateway) == ErrorCode.BAD_KIND
        await gateway.send(Frame("a", 16000, "x3", FrameKind.VIDEO, b"\xff\xd8"))
        assert await error_code(gateway) == ErrorCode.BAD_KIND  # no vision in this server
        await gateway.send(Frame("b", 16000, "x4", payload=silence(0.2, 16000)))
        reply = await gateway.frame()
    assert reply is not None and reply.request_id == "x4"


async def test_silent_client_times_out(make_server: ServerFactory) -> None:
    server = await make_server(limits=ConnectionLimits(first_frame_timeout_s=0.5))
    async with connect(server.port) as gateway:
        assert await error_code(gateway) == ErrorCode.TIMEOUT
        assert await gateway.closed()


async def test_hundreds_of_idle_connections(make_server: ServerFactory) -> None:
    server = await make_server(max_connections=50, limits=ConnectionLimits(first_frame_timeout_s=3))
    async with connect(server.port) as working:
        await working.send(Frame("busy", 16000, "w0", payload=silence(0.1, 16000)))
        assert await working.frame() is not None
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(300)]
        try:
            # The established gateway keeps being served while the flood sits there.
            await working.send(Frame("busy", 16000, "w1", payload=silence(0.1, 16000)))
            reply = await working.frame()
            assert reply is not None and reply.request_id == "w1"
            refused = 0
            for reader, _writer in idle:
                data = await asyncio.wait_for(reader.read(200), 10)
                refused += b"busy" in data
            assert refused >= 250  # all beyond the limit refused at once; the rest timed out
            assert server.audio_socket is not None and server.audio_socket.connections <= 1
        finally:
            for _reader, writer in idle:
                writer.close()
    await still_serves(server)


async def test_auth_token_required_when_configured(make_server: ServerFactory) -> None:
    server = await make_server(limits=ConnectionLimits(auth_token="s3cret"))
    async with connect(server.port) as gateway:
        await gateway.send(Frame("dev", 16000, "r1", payload=silence(0.1, 16000)))
        assert await error_code(gateway) == ErrorCode.UNAUTHORIZED
        assert await gateway.closed()
    async with connect(server.port) as gateway:
        await gateway.send(Frame("-", 0, "-", FrameKind.AUTH, b"wrong"))
        assert await error_code(gateway) == ErrorCode.UNAUTHORIZED
    async with connect(server.port) as gateway:
        await gateway.send(Frame("-", 0, "-", FrameKind.AUTH, b"s3cret"))
        ok = await gateway.frame()
        assert ok is not None and ok.kind is FrameKind.AUTH_OK
        await gateway.send(Frame("dev", 16000, "r2", payload=silence(0.1, 16000)))
        reply = await gateway.frame()
        assert reply is not None and reply.request_id == "r2"


async def test_allow_list_refuses_other_addresses(make_server: ServerFactory) -> None:
    server = await make_server(allow=["10.0.0.0/8"])
    async with connect(server.port) as gateway:
        assert await error_code(gateway) == ErrorCode.UNAUTHORIZED
        assert await gateway.closed()
    allowed = await make_server(allow=["127.0.0.1"])
    await still_serves(allowed)


async def test_chunked_request_without_final_expires(make_server: ServerFactory) -> None:
    server = await make_server(limits=ConnectionLimits(request_timeout_s=0.5))
    async with connect(server.port) as gateway:
        await gateway.send(Frame("dev", 16000, "open1", FrameKind.CHUNK, silence(0.1, 16000)))
        frame = await gateway.frame(within=10)
        assert frame is not None and frame.kind is FrameKind.ERROR and frame.request_id == "open1"
        assert frame.json()["code"] == ErrorCode.TIMEOUT
        await gateway.send(Frame("dev", 16000, "open1", FrameKind.CANCEL))
        assert await error_code(gateway) == ErrorCode.UNKNOWN_REQUEST  # it is gone
