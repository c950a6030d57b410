"""Exact JSON the gateway publishes on MQTT (gateway status, device events, gateway metrics),
as a real broker delivers it, against committed snapshot files (tests/gateway/snapshots/).

A deliberate change: `NAILA_UPDATE_SNAPSHOTS=1 $NAILA_PY -m pytest
tests/gateway/test_wire_snapshots.py`, then review and commit the files.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest

from naila_gateway import events, metrics
from naila_protocol.commands import CommandMessage
from naila_protocol.vocab import DeviceCommand
from tests.conftest import Broker, free_port
from tests.gateway.conftest import GatewayFactory
from tests.helpers import assert_snapshot

SNAPSHOTS = Path(__file__).parent / "snapshots"
WHEN = "2026-01-02T03:04:05Z"
VOLATILE_METRICS = ("cpu_percent", "tasks")
"""Measured live: checked for type, left out of the snapshot."""


async def test_gateway_payloads_on_the_broker(
    make_gateway: GatewayFactory, mqtt_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "utc_timestamp", lambda: WHEN)
    monkeypatch.setattr(metrics, "utc_timestamp", lambda: WHEN)
    received: dict[str, bytes] = {}
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe("naila/gateway/#", qos=1)
        await client.subscribe("naila/devices/+/events", qos=1)
        gateway = await make_gateway(  # an AI server port nothing listens on: not connected
            gateway_id="gw-snap", metrics_interval=0.2, ai_server_port=free_port()
        )
        # a device command without a session: the gateway's own error event
        await client.publish(
            "naila/devices/porch/command",
            CommandMessage(DeviceCommand.ANNOUNCE, "porch", "cmd-1", message="hello").to_json(),
            qos=1,
        )
        async with asyncio.timeout(15):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.setdefault(message.topic.value, message.payload)
                if len(received) == 3:
                    break
        await gateway.stop()
        async with asyncio.timeout(15):
            async for message in client.messages:
                if message.topic.value == "naila/gateway/status":
                    assert isinstance(message.payload, bytes)
                    received["offline"] = message.payload
                    break
    assert_snapshot(SNAPSHOTS / "gateway_status.json", received["naila/gateway/status"])
    assert_snapshot(SNAPSHOTS / "gateway_status_offline.json", received["offline"])
    assert_snapshot(SNAPSHOTS / "device_event_error.json", received["naila/devices/porch/events"])
    payload = json.loads(received["naila/gateway/metrics"])
    for key in VOLATILE_METRICS:
        assert isinstance(payload.pop(key), int | float), key
    assert_snapshot(SNAPSHOTS / "gateway_metrics.json", json.dumps(payload).encode())
