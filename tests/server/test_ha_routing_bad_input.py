"""Out-of-contract conversation answers: one log line, the LLM answers, other devices unaffected."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from naila_protocol.payloads import ConversationRequest
from naila_protocol.topics import Topics
from tests.conftest import Broker
from tests.helpers import wait_until
from tests.server.conftest import ServerFactory
from tests.server.ha_responder import Reply, answer, handled, responder
from tests.server.test_ha_routing import CONFIRMATION, LIGHTS, PREFIX, ask, online_server
from tests.server.wire import pcm_bytes

Speech = Callable[[str, int], np.ndarray]
ROUTING_LOGGER = "wyoming_bridge.routing"


def routing_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(ROUTING_LOGGER) and r.levelno >= logging.WARNING
    ]


def misbehaving(request: ConversationRequest, topics: Topics) -> Reply:
    """Device 'bad' gets junk on its own topic; 'good' gets a proper answer plus stray junk."""
    own = topics.conversation_response(request.request_id)
    if request.device_id == "bad":
        return [(own, b'{"request_id": "' + request.request_id.encode() + b'", "handled": 1')]
    if request.device_id == "liar":
        return answer(topics, replace(handled(request, "I am another device"), device_id="other"))
    return [
        (topics.conversation_response("nobody-asked"), b"not json at all"),
        *answer(topics, handled(request, CONFIRMATION)),
        *answer(topics, handled(request, "a duplicate answer")),
    ]


async def test_malformed_answer_falls_back_at_once_and_spares_the_other_device(
    mqtt_broker: Broker,
    make_server: ServerFactory,
    speech: Speech,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ROUTING_LOGGER)
    pcm = pcm_bytes(speech(LIGHTS, 16000))
    async with responder(mqtt_broker.host, mqtt_broker.port, PREFIX, misbehaving) as ha:
        await ha.set_integration(True)
        server = await online_server(make_server, mqtt_broker, timeout_s=20.0)
        bad, good = await asyncio.gather(
            ask(server, "bad", "b1", pcm), ask(server, "good", "g1", pcm)
        )
        await wait_until(lambda: len(routing_warnings(caplog)) >= 3)
    assert (bad.summary.route, bad.summary.route_reason) == ("llm", "bad_response")
    assert bad.summary.reply and bad.pcm and bad.summary.timings["ha_ms"] < 10_000
    assert (good.summary.route, good.summary.reply) == ("ha", CONFIRMATION)
    warnings = routing_warnings(caplog)
    assert len(warnings) == 3, warnings
    assert sum("bad conversation response for b1." in w for w in warnings) == 1
    assert sum("unknown request 'nobody-asked'" in w for w in warnings) == 1
    assert sum("finished request 'g1." in w for w in warnings) == 1


async def test_answer_for_another_device_is_refused(
    mqtt_broker: Broker, make_server: ServerFactory, speech: Speech
) -> None:
    async with responder(mqtt_broker.host, mqtt_broker.port, PREFIX, misbehaving) as ha:
        await ha.set_integration(True)
        server = await online_server(make_server, mqtt_broker, timeout_s=20.0)
        reply = await ask(server, "liar", "l1", pcm_bytes(speech(LIGHTS, 16000)))
    assert (reply.summary.route, reply.summary.route_reason) == ("llm", "bad_response")


async def test_bad_retained_payloads_are_logged_and_defaults_apply(
    mqtt_broker: Broker,
    make_server: ServerFactory,
    speech: Speech,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ROUTING_LOGGER)
    topics = Topics(PREFIX)
    script = lambda request, t: answer(t, handled(request, CONFIRMATION))  # noqa: E731
    async with responder(mqtt_broker.host, mqtt_broker.port, PREFIX, script) as ha:
        await ha.set_integration(True)
        await ha.publish(topics.device_settings("hall"), b'{"conversation": "sometimes"}', True)
        await ha.publish(topics.device_status("hall"), b"[1, 2]", True)
        server = await online_server(make_server, mqtt_broker)
        await wait_until(lambda: len(routing_warnings(caplog)) >= 2)
        await ha.publish(topics.integration_status, b'{"online": "yes"}', True)
        await wait_until(lambda: len(routing_warnings(caplog)) >= 3)
        assert server.router is not None and server.router.state.integration_online
        reply = await ask(server, "hall", "d1", pcm_bytes(speech(LIGHTS, 16000)))
    assert (reply.summary.route, reply.summary.reply) == ("ha", CONFIRMATION)
