"""Access control of the HTTP side: token, same-origin, rate limit, TLS; page, events, uploads."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiomqtt
import pytest

from naila_gateway import Gateway
from naila_gateway.http.server import WEB_ROOT
from naila_gateway.http.settings import HttpSettings
from tests.gateway.whip_client import WhipClient
from tests.protocol.tls_certs import make_pki

TOKEN = "open-sesame"
SDP = {"Content-Type": "application/sdp"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _gateway(make_gateway, reply_server, **http: object) -> Gateway:
    gateway: Gateway = await make_gateway(
        ai_server_port=reply_server.port, http=HttpSettings(port=0, **http)
    )
    return gateway


async def test_token_is_required_for_the_api_not_the_page(make_gateway, reply_server, http) -> None:
    gateway = await _gateway(make_gateway, reply_server, token=TOKEN)
    url = gateway.http.url
    async with http.get(url) as response:
        assert response.status == 200 and "NAILA" in await response.text()
    async with http.get(url + "static/app.js") as response:
        assert response.status == 200
    events = url + "api/devices/d1/events"
    async with http.get(events) as response:
        assert response.status == 401 and (await response.json())["error"] == "unauthorized"
    async with http.get(events, headers={"Authorization": "Bearer nope"}) as response:
        assert response.status == 403 and (await response.json())["error"] == "forbidden"
    for kwargs in (
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
        {"params": {"token": TOKEN}},
        {"cookies": {"naila_token": TOKEN}},
    ):
        async with http.get(events, **kwargs) as response:  # type: ignore[arg-type]
            assert response.status == 200
            assert await response.content.readline() == b": connected\n"
    offer = await WhipClient(url, "d1").offer()
    async with http.post(url + "whip/d1", data=offer, headers=SDP) as response:
        assert response.status == 401


async def test_cross_origin_signaling_is_refused(make_gateway, reply_server, http) -> None:
    gateway = await _gateway(
        make_gateway, reply_server, allowed_origins=("https://ha.example:8123",)
    )
    url = gateway.http.url
    own = url.rstrip("/")
    offer = await WhipClient(url, "o1").offer()
    headers = {**SDP, "Origin": "https://evil.example"}
    async with http.post(url + "whip/o1", data=offer, headers=headers) as response:
        assert response.status == 403 and (await response.json())["error"] == "cross_origin"
    assert "o1" not in gateway.sessions
    for origin in (own, "https://ha.example:8123"):
        client = WhipClient(url, "o1", headers={"Origin": origin})
        try:
            await client.connect(http)
        finally:
            await client.close()


async def test_rate_limit_per_client(make_gateway, reply_server, http) -> None:
    gateway = await _gateway(make_gateway, reply_server, request_rate=0.5, request_burst=3)
    url = gateway.http.url + "api/devices/r1/command"
    statuses = []
    for _ in range(6):
        async with http.post(url, json={"command": "stop"}) as response:
            statuses.append(response.status)
            if response.status == 429:
                assert (await response.json())["error"] == "rate_limited"
    assert statuses[:3] == [202, 202, 202] and statuses[3:] == [429, 429, 429]
    async with http.get(gateway.http.url) as response:  # the page is not rate limited
        assert response.status == 200


async def test_tls(make_gateway, reply_server, tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    gateway = await _gateway(
        make_gateway,
        reply_server,
        tls_cert_file=str(pki.server_cert),
        tls_key_file=str(pki.server_key),
    )
    assert gateway.http.url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=str(pki.ca))
    async with (
        aiohttp.ClientSession() as http,
        http.get(gateway.http.url, ssl=context) as response,
    ):
        assert response.status == 200


def test_page_loads_nothing_from_elsewhere() -> None:
    for path in WEB_ROOT.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path
        assert not re.search(r"@import|url\(\s*['\"]?https?:", text), path
        assert "fonts.googleapis" not in text and "cdn" not in text.lower(), path


async def test_events_stream_the_devices_events(make_gateway, reply_server, http) -> None:
    gateway = await _gateway(make_gateway, reply_server)
    async with http.get(gateway.http.url + "api/devices/ev1/events") as response:
        assert await response.content.readline() == b": connected\n"
        await response.content.readline()
        gateway.publish_event("ev2", "error", code="x")  # another device: not on this stream
        gateway.publish_event("ev1", "error", code="no_session")
        line = await asyncio.wait_for(response.content.readline(), 5)
        event = json.loads(line.removeprefix(b"data: "))
        assert event["device_id"] == "ev1" and event["code"] == "no_session"


async def test_upload_is_bridged_to_mqtt_and_answered(
    make_gateway, reply_server, mqtt_broker, http
) -> None:
    gateway = await _gateway(make_gateway, reply_server)
    topics = gateway.topics
    seen: list[dict[str, object]] = []

    async def answer_uploads() -> None:
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
            await client.subscribe(topics.uploads_wildcard, qos=1)
            ready.set()
            async for message in client.messages:
                if str(message.topic).endswith("/reply"):
                    continue
                data = json.loads(message.payload)  # type: ignore[arg-type]
                seen.append(data)
                reply = {
                    "session_id": data["session_id"],
                    "request_id": data["request_id"],
                    "status": "ok" if base64.b64decode(data["data"]) == b"\x89PNG-ish" else "error",
                    "answer": f"I see a test image ({data['context']})",
                    "error": {"code": "bad_image", "message": "cannot decode"},
                }
                await client.publish(topics.upload_reply(data["session_id"]), json.dumps(reply))

    ready = asyncio.Event()
    responder = asyncio.create_task(answer_uploads())
    try:
        await ready.wait()
        url = gateway.http.url + "api/devices/cam1/upload"
        headers = {"Content-Type": "image/png"}
        params = {"question": "what is this?"}
        async with http.post(url, data=b"\x89PNG-ish", headers=headers, params=params) as response:
            body = await response.json()
        assert response.status == 200, body
        assert body["answer"] == "I see a test image (what is this?)"
        assert body["spoken"] is False  # no session to speak on
        assert seen[0]["device_id"] == "cam1" and seen[0]["format"] == "png"
        assert seen[0]["media_type"] == "image"
        async with http.post(url, data=b"junk", headers=headers) as response:
            assert response.status == 422 and (await response.json())["error"] == "bad_image"
        async with http.post(url, data=b"x" * (9 * 1024 * 1024), headers=headers) as response:
            assert response.status == 413
    finally:
        responder.cancel()
        await asyncio.gather(responder, return_exceptions=True)
