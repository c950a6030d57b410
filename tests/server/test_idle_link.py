"""An idle gateway connection stays open and quiet: the gateway's PING frames keep it alive."""

from __future__ import annotations

import asyncio
import logging

import pytest

from naila_gateway.server_client import ServerClient
from naila_protocol.framing import PING_FRAME, encode_frame
from tests.server.conftest import ServerFactory
from wyoming_bridge.gateway_connection import ConnectionLimits


def test_ping_frame_bytes() -> None:
    assert encode_frame(PING_FRAME) == b"-|0|0|-|ping\n"


@pytest.mark.parametrize("token", [None, "s3cret"])
async def test_idle_link_is_kept_without_errors_or_reconnects(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture, token: str | None
) -> None:
    caplog.set_level(logging.INFO)
    limits = ConnectionLimits(auth_token=token, first_frame_timeout_s=0.5, idle_timeout_s=0.6)
    server = await make_server(limits=limits)
    changes: list[bool] = []
    lost = asyncio.Event()

    def on_change(up: bool) -> None:
        changes.append(up)
        if not up:
            lost.set()

    client = ServerClient(
        [("127.0.0.1", server.port)], token=token, keepalive=0.2, on_connection_change=on_change
    )
    client.start()
    try:
        await asyncio.wait_for(client.wait_connected(), 10)
        with pytest.raises(TimeoutError):  # four idle timeouts long: nothing may drop
            await asyncio.wait_for(lost.wait(), 2.5)
        assert changes == [True] and client.connected
    finally:
        await client.stop()
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not noisy, [r.getMessage() for r in noisy]


async def test_without_keepalive_the_idle_link_is_dropped(make_server: ServerFactory) -> None:
    """The contrast: a gateway that never pings is closed by the idle timeout."""
    server = await make_server(
        limits=ConnectionLimits(first_frame_timeout_s=0.3, idle_timeout_s=0.3)
    )
    lost = asyncio.Event()
    client = ServerClient(
        [("127.0.0.1", server.port)],
        keepalive=3600,
        on_connection_change=lambda up: None if up else lost.set(),
    )
    client.start()
    try:
        await asyncio.wait_for(client.wait_connected(), 10)
        await asyncio.wait_for(lost.wait(), 10)  # the first PING was its only frame
    finally:
        await client.stop()
