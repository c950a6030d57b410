"""Random payloads on every topic the integration subscribes to, through a real mosquitto and
HA's real MQTT client: the entry stays loaded, a device that behaves keeps its entities, new
devices are still discovered, and nothing is logged as an error.

The HA venv has no hypothesis, so the cases come from a seeded generator (the same on every
run) shaped like the real payloads (tests/ha/payloads.py) with wrong types and values.
"""

from __future__ import annotations

import base64
import json
import logging
import random
from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import CONF_PREFIX, DOMAIN, Topics

from .payloads import alert, device_status
from .real_broker import Peer
from .real_broker import subscribed as _subscribed
from .real_broker import until as _until

# Fixtures peer, broker_port and real_mqtt: tests/ha/conftest.py.
CASES = 400
SEED = 20261203
WEIRD_IDS = ["..", "a" * 200, "dev ice", "\u00e9t\u00e9", "$SYS", "-", "kitchen2", "x.y:z"]
EVENTS = ["reply", "utterance", "interrupted", "state", "wake", "error", "announced", "x"]


def junk(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value."""
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, -1, 1, 2**63, -(2**70), rng.randrange(-1000, 1000)])
    if kind == 3:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 30)))
    if kind == 4:
        return rng.choice([0.5, -1e308, 1e308, rng.uniform(-10, 10)])
    if kind == 5:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return {str(junk(rng, 3)): junk(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def mangle(rng: random.Random, shaped: dict[str, Any]) -> dict[str, Any]:
    """A real payload with some values replaced by junk and some keys dropped."""
    out = dict(shaped)
    for key in list(out):
        roll = rng.random()
        if roll < 0.3:
            out[key] = junk(rng)
        elif roll < 0.4:
            del out[key]
    return out


def payload_for(rng: random.Random, leaf: str, device_id: str) -> bytes:
    roll = rng.random()
    if roll < 0.15:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    if roll < 0.3:
        return json.dumps(junk(rng)).encode()
    shaped: dict[str, Any]
    if leaf == "status":
        shaped = device_status(device_id, capabilities=rng.choice([["audio"], ["camera"], []]))
    elif leaf == "events":
        shaped = {"event": rng.choice(EVENTS), "device_id": device_id, "request_id": "r1",
                  "transcript": "hi", "reply": "hello", "state": "idle", "reason": "barge_in"}  # fmt: skip
    elif leaf == "media/snapshot":
        shaped = {"request_id": "r1", "media_type": "image", "format": "jpeg",
                  "data": base64.b64encode(b"\xff\xd8" + bytes(20)).decode()}  # fmt: skip
    elif leaf == "alert":
        shaped = alert(zone=device_id, source=device_id)
    elif leaf == "upload_reply":
        shaped = {"request_id": "r1", "status": "ok", "answer": "a", "session_id": device_id}
    else:  # gateway/server status and metrics, conversation requests
        shaped = {"online": True, "gateway_id": device_id, "server_id": device_id,
                  "sessions": 1, "text": "turn on the lights", "request_id": "r1"}  # fmt: skip
    return json.dumps(mangle(rng, shaped)).encode()


def cases(topics: Topics) -> list[tuple[str, bytes]]:
    rng = random.Random(SEED)
    fixed = [topics.gateway_status, topics.server_status, topics.gateway_metrics,
             topics.server_metrics]  # fmt: skip
    for name in ("conversation_request", "integration_status"):
        if isinstance(topic := getattr(topics, name, None), str):
            fixed.append(topic)
    out = []
    for _ in range(CASES):
        device_id = rng.choice([*WEIRD_IDS, f"fz{rng.randrange(50)}"])
        leaf = rng.choice(["status", "events", "media/snapshot", "alert", "upload_reply", "fixed"])
        if leaf == "alert":
            topic = topics.alert(device_id, rng.choice(["person_detected", "x", device_id]))
        elif leaf == "upload_reply":
            topic = topics.upload_reply(device_id)
        elif leaf == "fixed":
            topic = rng.choice(fixed)
        else:
            topic = topics.device(device_id, leaf)
        out.append((topic, payload_for(rng, leaf, device_id)))
    return out


async def test_random_payloads_on_every_topic(
    hass: HomeAssistant, real_mqtt: MockConfigEntry, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    topics = Topics("naila")
    await hass.async_add_executor_job(
        peer.publish, topics.device_status("kitchen"), device_status("kitchen"), True
    )
    entry = MockConfigEntry(domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    kitchen = "binary_sensor.kitchen_connectivity"
    await _until(lambda: getattr(hass.states.get(kitchen), "state", None) == "on")
    await _until(lambda: _subscribed(hass))

    def publish_all() -> None:
        for topic, payload in cases(topics):
            peer.client.publish(topic, payload, qos=1).wait_for_publish(5)

    await hass.async_add_executor_job(publish_all)
    # a device that behaves is still discovered after the flood (it also marks its end)
    await hass.async_add_executor_job(
        peer.publish, topics.device_status("porch"), device_status("porch"), True
    )
    await _until(
        lambda: getattr(hass.states.get("binary_sensor.porch_connectivity"), "state", None) == "on",
        seconds=30,
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(kitchen).state == "on"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage()[:200] for r in errors]
    for device_id in {"kitchen", "porch", *WEIRD_IDS}:  # no retained junk for other tests
        await hass.async_add_executor_job(peer.publish, topics.device_status(device_id), "", True)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
