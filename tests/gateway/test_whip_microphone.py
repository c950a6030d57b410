"""A sendonly WHIP session (a microphone) answered on its device's speaker session.

Real aiortc peers on both sides: the simulated MQTT device or a sendrecv WHIP client is the
speaker, an aiortc `sendonly` WHIP client (as OBS, GStreamer whipsink or an ESP32) is the
microphone of the same device id; a real mosquitto and a framing reply server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from naila_gateway import Gateway
from naila_gateway.http.settings import HttpSettings
from naila_sim import tone
from tests.gateway.whip_client import WhipClient, watch_topics
from tests.helpers import wait_for_session, wait_until


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def clients() -> AsyncIterator[list[WhipClient]]:
    made: list[WhipClient] = []
    yield made
    for client in made:
        await client.close()


@pytest.fixture
async def gateway(make_gateway, reply_server) -> Gateway:
    made: Gateway = await make_gateway(
        ai_server_port=reply_server.port, http=HttpSettings(port=0, max_sessions=3)
    )
    await made.server.wait_connected()
    return made


async def test_microphone_replies_play_on_the_mqtt_devices_speaker(
    gateway, make_device, reply_server, http, clients, caplog
) -> None:
    caplog.set_level(logging.INFO)
    reply_server.reply_seconds = 6.0
    reply_server.pace = 1.0  # still playing when the microphone talks over it
    device = await make_device("kitchen")
    await device.wait_connected()
    speaker = await wait_for_session(gateway, "kitchen")
    mic = WhipClient(str(gateway.http.url), "kitchen", direction="sendonly")
    clients.append(mic)
    await mic.connect(http)

    assert gateway.sessions["kitchen"] is speaker  # the device keeps its one voice session
    assert speaker.microphone is not None and speaker.microphone.voice is speaker.voice
    assert "a=recvonly" in mic.answer
    started = await device.wait_event("session_started", microphone_of=speaker.session_id)
    assert started["session_id"] == speaker.microphone.session_id

    # the microphone speaks: the reply is heard on the device's speaker
    since, mark = len(device.events), device.recorder.mark()
    mic.mic.queue(tone(0.8))
    utterance = await device.wait_event("utterance", since=since, within=20)
    heard = await device.recorder.wait_voiced(mark, within=20)
    assert speaker.voice.reply_active()

    # barge-in from the microphone: the reply stops on the speaker
    since = len(device.events)
    mic.mic.queue(tone(0.8, frequency=600))
    interrupted = await device.wait_event("interrupted", since=since, within=20)
    assert interrupted["request_id"] == utterance["request_id"]
    assert interrupted["reason"] == "barge_in"
    assert utterance["request_id"] in reply_server.cancelled
    await device.recorder.wait_quiet(heard, frames=10)
    second = await device.wait_event("reply", since=since, within=20)
    assert second["transcript"] == "(tone)" and second["request_id"] != utterance["request_id"]

    # ending the microphone leaves the device's session, which listens to its own mic again
    assert await mic.delete(http) == 200
    await wait_until(lambda: speaker.microphone is None)
    assert gateway.sessions["kitchen"] is speaker and speaker.state == "connected"
    reply_server.reply_seconds, reply_server.pace = 1.0, 0.25
    await wait_until(lambda: not speaker.voice.reply_active(), within=20)
    turn = await device.turn(tone(0.8))
    assert turn.event is not None and turn.event["transcript"] == "(tone)"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_microphone_first_then_a_speaker_session_of_the_same_device(
    gateway, mqtt_broker, http, clients
) -> None:
    url = str(gateway.http.url)
    prefix = gateway.topics.prefix
    async with watch_topics(mqtt_broker.host, mqtt_broker.port, f"{prefix}/devices/+/#") as mqtt:
        mic = WhipClient(url, "desk", direction="sendonly")
        clients.append(mic)
        await mic.connect(http)
        alone = gateway.sessions["desk"]
        assert not alone.voice.speaker

        # no speaker anywhere: the reply is reported on the events, nothing errors
        since = len(mqtt.messages)
        mic.mic.queue(tone(0.8))
        reply = await mqtt.wait("/desk/events", since=since, event="reply", within=20)
        assert reply["transcript"] == "(tone)"

        # a sendrecv session of the same device: the microphone joins it
        speaker_client = WhipClient(url, "desk")
        clients.append(speaker_client)
        since = len(mqtt.messages)
        await speaker_client.connect(http)
        speaker = gateway.sessions["desk"]
        assert speaker is not alone and speaker.microphone is alone
        assert alone.voice is speaker.voice and alone.state == "connected"
        status = await mqtt.wait("/desk/status", since=since, online=True)
        assert set(status["capabilities"]) == {"audio", "speaker"}

        # the microphone speaks, the speaker session hears the reply
        since, mark = len(mqtt.messages), speaker_client.recorder.mark()
        mic.mic.queue(tone(0.8, frequency=500))
        reply = await mqtt.wait("/desk/events", since=since, event="reply", within=20)
        assert reply["transcript"] == "(tone)"
        heard = await speaker_client.recorder.wait_voiced(mark, within=20)
        end = await speaker_client.recorder.wait_quiet(heard)
        assert 0.8 <= speaker_client.recorder.voiced_seconds(heard, end) <= 1.2

        # the speaker session ends: its microphone with it, and the device goes offline
        since = len(mqtt.messages)
        assert await speaker_client.delete(http) == 200
        await mqtt.wait("/desk/status", since=since, online=False)
        await wait_until(lambda: alone.state == "closed")
        assert "desk" not in gateway.sessions
        assert await mic.delete(http) == 404
        await asyncio.sleep(0)
