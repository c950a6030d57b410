"""The gateway finds a restarted AI server at once, and fails over to a standby server."""

from __future__ import annotations

import asyncio
import time

from naila_gateway import server_client
from naila_gateway.server_client import Retry, ServerClient
from naila_protocol.framing import FrameKind
from naila_sim import tone
from tests.conftest import free_port
from tests.gateway.reply_server import ReplyServer
from tests.helpers import wait_for_session, wait_until

OUTAGE_S = 4.0
"""Long enough that doubling retries (0.25, 0.5, 1, 2 s, ...) would be >3 s late."""


def test_retry_is_fast_first_then_backs_off() -> None:
    retry = Retry(0.25, 5.0, fast_s=2.0)
    assert [retry.next_delay(t) for t in (10.0, 10.5, 11.9)] == [0.25, 0.25, 0.25]
    assert [retry.next_delay(t) for t in (12.0, 13.0, 14.0, 15.0, 16.0, 17.0)] == [
        0.25,
        0.5,
        1.0,
        2.0,
        4.0,
        5.0,
    ]
    retry.reset()
    assert retry.next_delay(100.0) == 0.25 and retry.next_delay(101.9) == 0.25


async def test_restarted_server_is_found_within_a_retry() -> None:
    server = ReplyServer()
    await server.start()
    client = ServerClient([("127.0.0.1", server.port)])
    client.start()
    try:
        await asyncio.wait_for(client.wait_connected(), 10)
        await server.stop()
        await asyncio.sleep(OUTAGE_S)
        assert not client.connected
        restarted = ReplyServer(port=server.port)
        await restarted.start()
        back = time.monotonic()
        try:
            await asyncio.wait_for(client.wait_connected(), 10)
            assert time.monotonic() - back < 1.0
        finally:
            await restarted.stop()
    finally:
        await client.stop()


async def test_standby_serves_while_the_first_server_is_down(make_gateway, make_device) -> None:
    first_port = free_port()  # nothing listens here yet
    standby = ReplyServer()
    await standby.start()
    gateway = await make_gateway(
        ai_server_port=first_port, ai_server_standby=[f"127.0.0.1:{standby.port}"]
    )
    device = await make_device("hall")
    await device.wait_connected()
    await wait_for_session(gateway, "hall")
    try:
        await asyncio.wait_for(gateway.server.wait_connected(), 10)
        assert gateway.server.address == ("127.0.0.1", standby.port)
        turn = await device.turn(tone(0.6))
        assert turn.first_audio_ms is not None and turn.event is not None
        assert standby.completed

        first = ReplyServer(port=first_port)
        await first.start()
        try:
            await standby.stop()  # the standby dies: the list is tried from the top again
            await wait_until(
                lambda: (
                    gateway.server.connected and gateway.server.address == ("127.0.0.1", first_port)
                ),
                5,
            )
            turn = await device.turn(tone(0.6))
            assert turn.first_audio_ms is not None and turn.event is not None
            assert first.completed
        finally:
            await first.stop()
    finally:
        await standby.stop()


async def test_primary_dies_mid_reply_and_the_standby_answers_next(
    make_gateway, make_device, monkeypatch
) -> None:
    """The in-flight utterance is reported, the next one is answered by the standby, and a
    restarted primary does not take the link back while the standby serves."""
    monkeypatch.setattr(server_client, "STABLE_CONNECTION_S", 0.0)
    primary = ReplyServer(first_delay=60.0)  # the request stays in flight until the kill
    standby = ReplyServer()
    await primary.start()
    await standby.start()
    # a retry delay far past the test's waits: the standby must be tried at once, not later
    gateway = await make_gateway(
        ai_server_port=primary.port, ai_server_standby=[f"127.0.0.1:{standby.port}"]
    )
    gateway.server.retry = Retry(120.0, 120.0, fast_s=0.0)
    device = await make_device("porch")
    await device.wait_connected()
    await wait_for_session(gateway, "porch")
    restarted: ReplyServer | None = None
    try:
        await asyncio.wait_for(gateway.server.wait_connected(), 10)
        assert gateway.server.address == ("127.0.0.1", primary.port)
        await device.say(tone(0.6))
        request_id = (await device.wait_event("utterance"))["request_id"]
        await wait_until(lambda: primary.requests(FrameKind.FINAL), 10)
        await primary.stop()  # dies with the request in flight
        await device.wait_event("server_unavailable", request_id=request_id)
        await wait_until(lambda: gateway.server.connected, 10)
        assert gateway.server.address == ("127.0.0.1", standby.port)

        turn = await device.turn(tone(0.6))
        assert turn.first_audio_ms is not None and turn.event is not None
        assert turn.event["request_id"] in standby.completed

        restarted = ReplyServer(port=primary.port)
        await restarted.start()
        turn = await device.turn(tone(0.6))
        assert turn.event is not None and turn.event["request_id"] in standby.completed
        assert restarted.connections == 0 and gateway.server.address[1] == standby.port
    finally:
        await primary.stop()
        await standby.stop()
        if restarted is not None:
            await restarted.stop()


async def test_a_dying_primary_that_still_accepts_is_tried_last(
    make_gateway, make_device, monkeypatch
) -> None:
    """A killed server's listening socket may accept for a moment after its connections
    dropped: the standby is tried first right after the drop."""
    monkeypatch.setattr(server_client, "STABLE_CONNECTION_S", 0.0)
    primary, standby = ReplyServer(), ReplyServer()
    await primary.start()
    await standby.start()
    gateway = await make_gateway(
        ai_server_port=primary.port, ai_server_standby=[f"127.0.0.1:{standby.port}"]
    )
    gateway.server.retry = Retry(120.0, 120.0, fast_s=0.0)
    device = await make_device("attic")
    try:
        await asyncio.wait_for(gateway.server.wait_connected(), 10)
        assert gateway.server.address == ("127.0.0.1", primary.port)
        primary.token = "nobody has it"  # from now on it drops each new connection at once
        for writer in list(primary._writers):
            writer.close()
        await wait_until(
            lambda: gateway.server.connected and gateway.server.address[1] == standby.port, 10
        )
        await device.wait_connected()
        turn = await device.turn(tone(0.6))
        assert turn.event is not None and turn.event["request_id"] in standby.completed
        assert not primary.refused  # the dying primary was not tried
    finally:
        await primary.stop()
        await standby.stop()
