"""Conversation routing with real models, a real mosquitto and a scripted integration.

Home Assistant first on the final transcript; the LLM when HA does not handle it, is offline,
too slow or answers out of contract; `ha_only` devices hear that HA could not be reached.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

import aiomqtt
import numpy as np
import pytest

from naila_protocol.framing import Frame, FrameKind
from naila_protocol.mqtt import MqttSettings
from naila_protocol.payloads import ConversationRequest
from naila_protocol.topics import HA_STATUS_TOPIC, Topics
from naila_protocol.vocab import ConversationMode
from tests.conftest import Broker
from tests.helpers import wait_until
from tests.server.conftest import ServerFactory
from tests.server.ha_responder import Reply, Responder, answer, handled, not_handled, responder
from tests.server.test_audio_socket import send_paced, words_in
from tests.server.wire import StreamedReply, connect, pcm_bytes, silence
from wyoming_bridge.app import NailaServer, ServerSettings
from wyoming_bridge.routing.settings import DEFAULT_UNREACHABLE_SPEECH, RoutingSettings

Speech = Callable[[str, int], np.ndarray]
PREFIX = "rt"
LIGHTS = "turn off the kitchen lights"
JOKE = "tell me a joke"
CONFIRMATION = "Turned off the lights"
HEARD = "off kitchen lights"
"""The words of LIGHTS that tiny.en always gets from espeak-ng ("the" is at times "my")."""


def lights_script(request: ConversationRequest, topics: Topics) -> Reply:
    """HA's default agent in miniature: lights commands handled, everything else not matched."""
    if "light" in request.text.lower():
        return answer(topics, handled(request, CONFIRMATION, ("light.bedroom",)))
    return answer(topics, not_handled(request))


async def start(make_server: ServerFactory, broker: Broker, timeout_s: float = 3.0) -> NailaServer:
    settings = ServerSettings(
        mqtt=MqttSettings(host=broker.host, port=broker.port, prefix=PREFIX),
        server_id="rt",
        routing=RoutingSettings(ha_timeout_s=timeout_s),
    )
    server = await make_server(settings=settings)
    assert server.mqtt is not None
    await asyncio.wait_for(server.mqtt.connected.wait(), 10)
    return server


async def ask(server: NailaServer, device: str, request_id: str, pcm: bytes) -> StreamedReply:
    async with connect(server.port) as gateway:
        await gateway.send(Frame(device, 16000, request_id, FrameKind.STREAM, pcm))
        return await gateway.streamed_reply(request_id)


@pytest.fixture
async def ha(mqtt_broker: Broker) -> AsyncIterator[Responder]:
    async with responder(mqtt_broker.host, mqtt_broker.port, PREFIX, lights_script) as scripted:
        await scripted.set_integration(True)
        yield scripted


async def online_server(make_server: ServerFactory, broker: Broker, **kw: float) -> NailaServer:
    server = await start(make_server, broker, **kw)
    assert server.router is not None
    router = server.router
    await wait_until(lambda: router.state.integration_online)
    return server


async def test_home_command_is_answered_by_home_assistant(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    server = await online_server(make_server, mqtt_broker)
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as watcher:
        await watcher.subscribe(f"{PREFIX}/server/metrics")
        reply = await ask(server, "bedroom", "r1", pcm_bytes(speech(LIGHTS, 16000)))
        async with asyncio.timeout(10):
            metrics = json.loads(bytes((await anext(watcher.messages)).payload))  # type: ignore[arg-type]
    summary = reply.summary
    assert summary.status == "ok" and words_in(summary.transcript, HEARD)
    assert (summary.route, summary.route_reason, summary.reply) == ("ha", "handled", CONFIRMATION)
    assert reply.pcm and 0 < summary.timings["ha_ms"] < 3000
    assert summary.timings["stt_ms"] > 0 and summary.timings["tts_first_chunk_ms"] > 0
    (request,) = ha.requests
    assert (request.device_id, request.language) == ("bedroom", "en")
    assert words_in(request.text, HEARD) and request.request_id.startswith("r1.")
    assert (metrics["route"], metrics["route_reason"]) == ("ha", "handled")
    assert metrics["ha_ms"] == summary.timings["ha_ms"]


async def test_not_matched_goes_to_the_llm(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    server = await online_server(make_server, mqtt_broker)
    reply = await ask(server, "den", "j1", pcm_bytes(speech(JOKE, 16000)))
    summary = reply.summary
    assert (summary.route, summary.route_reason) == ("llm", "no_intent_match")
    assert summary.reply and summary.reply != "Sorry, I couldn't understand that" and reply.pcm
    assert summary.timings["llm_first_token_ms"] > 0 and summary.timings["ha_ms"] > 0
    assert len(ha.requests) == 1


async def test_follow_up_carries_home_assistants_conversation_id(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    server = await online_server(make_server, mqtt_broker)
    pcm = pcm_bytes(speech(LIGHTS, 16000))
    await ask(server, "bedroom", "f1", pcm)
    await ask(server, "bedroom", "f2", pcm)
    assert [r.conversation_id for r in ha.requests] == [None, "ha-conv-1"]


async def test_integration_offline_goes_to_the_llm_without_a_request(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    await ha.set_integration(False)
    server = await start(make_server, mqtt_broker)
    reply = await ask(server, "den", "o1", pcm_bytes(speech(LIGHTS, 16000)))
    assert (reply.summary.route, reply.summary.route_reason) == ("llm", "integration_offline")
    assert reply.summary.reply and reply.pcm and ha.requests == []


async def test_home_assistant_stopping_counts_as_offline(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    """The integration cannot set a last will of its own: HA's MQTT will says it stopped."""
    server = await online_server(make_server, mqtt_broker)
    await ha.publish(HA_STATUS_TOPIC, b"offline", retain=True)
    assert server.router is not None
    router = server.router
    await wait_until(lambda: not router.state.integration_online)
    reply = await ask(server, "den", "o2", pcm_bytes(speech(LIGHTS, 16000)))
    assert reply.summary.route_reason == "integration_offline" and ha.requests == []
    await ha.publish(HA_STATUS_TOPIC, b"online", retain=True)
    await wait_until(lambda: router.state.integration_online)


async def test_silent_integration_falls_back_within_the_deadline(
    mqtt_broker: Broker, make_server: ServerFactory, speech: Speech
) -> None:
    async with responder(mqtt_broker.host, mqtt_broker.port, PREFIX, lambda r, t: []) as silent:
        await silent.set_integration(True)
        server = await online_server(make_server, mqtt_broker, timeout_s=0.4)
        reply = await ask(server, "den", "t1", pcm_bytes(speech(LIGHTS, 16000)))
    summary = reply.summary
    assert (summary.route, summary.route_reason) == ("llm", "timeout")
    assert 400 <= summary.timings["ha_ms"] < 1500
    assert summary.reply and reply.pcm and len(silent.requests) == 1


async def test_ha_only_device_hears_that_home_assistant_is_unreachable(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    await ha.set_integration(False)
    await ha.set_mode("attic", ConversationMode.HA_ONLY)
    server = await start(make_server, mqtt_broker)
    assert server.router is not None
    router = server.router
    await wait_until(lambda: router.state.mode("attic") is ConversationMode.HA_ONLY)
    reply = await ask(server, "attic", "h1", pcm_bytes(speech(JOKE, 16000)))
    summary = reply.summary
    assert (summary.route, summary.route_reason) == ("ha", "integration_offline")
    assert summary.reply == DEFAULT_UNREACHABLE_SPEECH and reply.pcm
    assert "llm_first_token_ms" not in summary.timings


async def test_naila_only_device_never_asks_home_assistant(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    await ha.set_mode("lab", ConversationMode.NAILA_ONLY)
    server = await online_server(make_server, mqtt_broker)
    assert server.router is not None
    router = server.router
    await wait_until(lambda: router.state.mode("lab") is ConversationMode.NAILA_ONLY)
    reply = await ask(server, "lab", "n1", pcm_bytes(speech(LIGHTS, 16000)))
    assert (reply.summary.route, reply.summary.route_reason) == ("llm", "naila_only")
    assert ha.requests == [] and "ha_ms" not in reply.summary.timings


async def test_speculation_never_reaches_home_assistant(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    """A pause mid-command starts speculative work on "turn off"; only the final text goes out."""
    server = await online_server(make_server, mqtt_broker)
    rate = 16000
    pcm = (
        pcm_bytes(speech("turn off", rate))
        + silence(0.8, rate)
        + pcm_bytes(speech("the kitchen lights", rate))
        + silence(0.5, rate)
    )
    async with connect(server.port) as gateway:
        await send_paced(gateway, "s1", pcm, rate)
        reply = await gateway.streamed_reply("s1")
    (request,) = ha.requests
    assert words_in(request.text, HEARD)
    assert reply.summary.route == "ha" and reply.summary.reply == CONFIRMATION


async def test_speculative_llm_reply_is_discarded_when_home_assistant_answers(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder, speech: Speech
) -> None:
    server = await online_server(make_server, mqtt_broker)
    rate = 16000
    async with connect(server.port) as gateway:
        await send_paced(gateway, "s2", pcm_bytes(speech(LIGHTS, rate)) + silence(0.6, rate), rate)
        reply = await gateway.streamed_reply("s2")
    assert reply.summary.reply == CONFIRMATION and reply.summary.route == "ha"
    assert "llm_first_token_ms" not in reply.summary.timings


async def test_prompt_names_the_device_its_area_and_the_time(
    mqtt_broker: Broker, make_server: ServerFactory, ha: Responder
) -> None:
    await ha.set_status("kitchen-1", "Kitchen speaker", "kitchen")
    server = await online_server(make_server, mqtt_broker)
    assert server.router is not None and server.pipeline is not None
    router = server.router
    await wait_until(lambda: router.state.device("kitchen-1") is not None)
    facts = server.pipeline.facts("kitchen-1")
    assert "Kitchen speaker in the kitchen" in facts and "local time" in facts
    assert str(time.localtime().tm_year) in facts
    assert "talking to" not in server.pipeline.facts("unknown-device")
