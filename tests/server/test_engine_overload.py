"""An engine that times out answers the request with an error and logs one line, no traceback."""

from __future__ import annotations

import logging

import pytest

from naila_protocol.framing import Frame, FrameKind
from tests.server.conftest import ServerFactory
from tests.server.wire import connect
from wyoming_bridge.engines import Engines


async def test_engine_timeout_is_one_warning_line(
    make_server: ServerFactory, engines: Engines, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server()
    runner = engines.tts_runner
    default = runner.timeout_s
    runner.timeout_s = 1e-4  # no synthesis fits: the stream times out
    caplog.set_level(logging.INFO)
    try:
        async with connect(server.port) as gateway:
            await gateway.send(Frame("hall", 22050, "slow1", FrameKind.SPEAK, b"Hello there."))
            reply = await gateway.streamed_reply("slow1", within=30)
    finally:
        runner.timeout_s = default
    assert reply.summary.status == "error" and "timed out" in reply.summary.reply
    records = [r for r in caplog.records if "slow1" in r.getMessage()]
    failed = [r for r in records if "failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].levelno == logging.WARNING, failed
    assert failed[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
