"""WHIP signaling over HTTP: real aiortc clients, real gateway, real mosquitto, a reply server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from naila_gateway import Gateway
from naila_gateway.http.settings import HttpSettings
from naila_sim import tone
from tests.gateway.whip_client import WhipClient, watch_topics


def base_url(gateway: Gateway) -> str:
    return str(gateway.http.url)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def whip_gateway(make_gateway, reply_server) -> Gateway:
    gateway: Gateway = await make_gateway(
        ai_server_port=reply_server.port, http=HttpSettings(port=0, max_sessions=2)
    )
    await gateway.server.wait_connected()
    return gateway


@pytest.fixture
async def clients() -> AsyncIterator[list[WhipClient]]:
    made: list[WhipClient] = []
    yield made
    for client in made:
        await client.close()


async def test_sendrecv_offer_is_answered_heard_and_ended(
    whip_gateway, mqtt_broker, http, clients
) -> None:
    prefix = whip_gateway.topics.prefix
    async with watch_topics(mqtt_broker.host, mqtt_broker.port, f"{prefix}/devices/+/#") as mqtt:
        client = WhipClient(base_url(whip_gateway), "browser_1")
        clients.append(client)
        await client.connect(http, "?name=Kitchen%20tablet&zone=kitchen&listening_mode=always")

        assert "a=sendrecv" in client.answer
        # DTLS server: the offerer (aiortc here, as Chromium and webrtcbin) starts the handshake
        assert "a=setup:actpass" in client.pc.localDescription.sdp
        assert "a=setup:passive" in client.answer and "a=setup:active" not in client.answer
        assert client.location is not None
        assert client.location.startswith("/whip/browser_1/")
        status = await mqtt.wait("/browser_1/status", online=True)
        assert status["name"] == "Kitchen tablet" and status["zone"] == "kitchen"
        assert status["listening_mode"] == "always"
        assert set(status["capabilities"]) == {"audio", "speaker"}
        session = whip_gateway.sessions["browser_1"]
        assert session.over_http and session.session_id in client.location

        client.mic.queue(tone(1.0))
        reply = await mqtt.wait("/browser_1/events", event="reply", within=20)
        assert reply["transcript"] == "(tone)" and reply["first_audio_ms"] > 0
        heard = await client.recorder.wait_voiced(0, within=10)
        end = await client.recorder.wait_quiet(heard)
        assert 0.8 <= client.recorder.voiced_seconds(heard, end) <= 1.2  # the 1 s reply tone

        since = len(mqtt.messages)
        assert await client.delete(http) == 200
        await mqtt.wait("/browser_1/status", since=since, online=False)
        await mqtt.wait("/browser_1/events", since=since, event="session_closed")
        assert "browser_1" not in whip_gateway.sessions
        assert await client.delete(http) == 404  # the session is gone


async def test_sendonly_offer_is_still_transcribed_and_answered(
    whip_gateway, mqtt_broker, http, clients
) -> None:
    prefix = whip_gateway.topics.prefix
    async with watch_topics(mqtt_broker.host, mqtt_broker.port, f"{prefix}/devices/+/#") as mqtt:
        client = WhipClient(base_url(whip_gateway), "whip_sender", direction="sendonly")
        clients.append(client)
        await client.connect(http)

        assert "a=recvonly" in client.answer and "a=sendrecv" not in client.answer
        status = await mqtt.wait("/whip_sender/status", online=True)
        assert status["capabilities"] == ["audio"]
        for turn in range(2):  # replies finish (played into the void) so the next turn works
            since = len(mqtt.messages)
            client.mic.queue(tone(0.8, frequency=400 + 100 * turn))
            reply = await mqtt.wait("/whip_sender/events", since=since, event="reply", within=20)
            assert reply["transcript"] == "(tone)"


async def _status_of(response: aiohttp.ClientResponse) -> tuple[int, dict[str, Any]]:
    return response.status, await response.json()


async def test_bad_requests_get_json_reasons_and_disturb_nothing(
    whip_gateway, mqtt_broker, http, clients
) -> None:
    url = base_url(whip_gateway)
    prefix = whip_gateway.topics.prefix
    async with watch_topics(mqtt_broker.host, mqtt_broker.port, f"{prefix}/devices/+/#") as mqtt:
        good = WhipClient(url, "steady")
        clients.append(good)
        await good.connect(http)
        valid_offer = await WhipClient(url, "x").offer()
        sdp = {"Content-Type": "application/sdp"}
        cases: list[tuple[str, str, bytes | str, dict[str, str], int, str]] = [
            ("POST", "whip/b1", b"hello", sdp, 400, "bad_sdp"),
            ("POST", "whip/b1", "v=0\r\nnonsense\r\n", sdp, 400, "no_audio"),
            ("POST", "whip/b1", b"\xff\xfe", sdp, 400, "bad_sdp"),
            ("POST", "whip/b1", valid_offer, {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
            ("POST", "whip/b1", "v=0\r\n" + "a=x\r\n" * 20000, sdp, 413, "too_large"),
            ("POST", "whip/bad%20id", valid_offer, sdp, 400, "bad_device_id"),
            ("POST", "whip/b1?name=" + "n" * 65, valid_offer, sdp, 400, "bad_query"),
            ("POST", "whip/b1?listening_mode=sometimes", valid_offer, sdp, 400, "bad_query"),
            ("DELETE", "whip/steady/nosuchsession", b"", {}, 404, "unknown_session"),
            ("DELETE", "whip/nobody/abc", b"", {}, 404, "unknown_session"),
            ("PATCH", "whip/nobody/abc", b"", {}, 404, "unknown_session"),
            ("POST", "api/devices/steady/command", b"{", {"Content-Type": "application/json"}, 400, "bad_json"),
            ("POST", "api/devices/steady/settings", b'{"listening_mode": "loud"}', {"Content-Type": "application/json"}, 400, "bad_settings"),
            ("POST", "api/devices/steady/upload", b"GIF89a", {"Content-Type": "image/gif"}, 415, "unsupported_media_type"),
        ]  # fmt: skip
        for method, path, body, headers, status, code in cases:
            async with http.request(method, url + path, data=body, headers=headers) as response:
                got = await _status_of(response)
            assert got[0] == status and got[1]["error"] == code, (method, path, got)
            assert got[1]["message"]

        no_audio = "\r\n".join(
            line
            for line in valid_offer.replace("m=audio", "m=video").split("\r\n")
            if "opus" not in line.lower()
        )
        async with http.post(url + "whip/b2", data=no_audio, headers=sdp) as response:
            assert (await _status_of(response))[1]["error"] in ("no_audio", "bad_sdp")

        # the good session was never touched and still answers
        assert whip_gateway.sessions["steady"].state == "connected"
        assert [s for s in whip_gateway.sessions] == ["steady"]
        since = len(mqtt.messages)
        good.mic.queue(tone(0.8))
        await mqtt.wait("/steady/events", since=since, event="reply", within=20)


async def test_too_many_sessions_is_refused(whip_gateway, http, clients) -> None:
    url = base_url(whip_gateway)
    for name in ("one", "two"):
        client = WhipClient(url, name)
        clients.append(client)
        await client.connect(http)
    third = WhipClient(url, "three")
    clients.append(third)
    headers = {"Content-Type": "application/sdp"}
    async with http.post(url + "whip/three", data=await third.offer(), headers=headers) as response:
        status, body = await _status_of(response)
    assert status == 429 and body["error"] == "too_many_sessions"
    # a client replacing its own device's session is not a new one
    again = WhipClient(url, "one")
    clients.append(again)
    await again.connect(http)
    assert sorted(whip_gateway.sessions) == ["one", "two"]
    assert whip_gateway.sessions["one"].session_id in (again.location or "")
    await asyncio.sleep(0)


async def test_patch_trickles_candidates(whip_gateway, http, clients) -> None:
    url = base_url(whip_gateway)
    client = WhipClient(url, "trickler")
    clients.append(client)
    await client.connect(http)
    session_url = url.rstrip("/") + str(client.location)
    trickle = {"Content-Type": "application/trickle-ice-sdpfrag"}
    fragment = "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"
    async with http.patch(session_url, data=fragment, headers=trickle) as response:
        assert response.status == 204
    async with http.patch(session_url, data="a=candidate:garbage\r\n", headers=trickle) as response:
        assert response.status == 400 and (await response.json())["error"] == "bad_candidate"
    async with http.patch(session_url, data=fragment, headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    assert whip_gateway.sessions["trickler"].state == "connected"
