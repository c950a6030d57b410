"""HA's real MQTT client against a real mosquitto on 127.0.0.1: status, alert and snapshot paths."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

import paho.mqtt.client as paho
import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.naila.const import CONF_OFF_DELAY, CONF_PREFIX, DOMAIN

from .payloads import JPEG, alert, camera_status
from .real_broker import until


class Peer:
    """A plain paho client playing the gateway, the AI server and the devices."""

    def __init__(self, port: int) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="naila-test-peer")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.client.on_message = self._on_message

    def publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)

    def answer(self, topic: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self.handlers[topic] = handler
        self.client.subscribe(topic, qos=1)

    def _on_message(self, _client: Any, _userdata: Any, msg: paho.MQTTMessage) -> None:
        if handler := self.handlers.get(msg.topic):
            handler(json.loads(msg.payload))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _subscribed(hass: HomeAssistant) -> bool:
    """True once HA's client has sent every SUBSCRIBE and got every ack (client internals)."""
    client = hass.data["mqtt"].client
    return not client._pending_subscriptions and not client._pending_operations


@pytest.fixture
async def peer(broker_port: int, hass: HomeAssistant) -> AsyncGenerator[Peer]:
    client = await hass.async_add_executor_job(Peer, broker_port)
    yield client
    await hass.async_add_executor_job(client.close)


async def test_alert_and_snapshot_through_real_broker(
    hass: HomeAssistant, real_mqtt: MockConfigEntry, peer: Peer
) -> None:
    # Retained before HA subscribes: the broker delivers it on subscription.
    await hass.async_add_executor_job(
        peer.publish, "naila/devices/front_cam/status", camera_status("front_cam"), True
    )
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="naila", data={CONF_PREFIX: "naila"}, options={CONF_OFF_DELAY: 1}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await until(
        lambda: (
            getattr(hass.states.get("binary_sensor.front_cam_connectivity"), "state", None) == "on"
        )
    )
    await until(lambda: _subscribed(hass))

    await hass.async_add_executor_job(
        peer.publish, "naila/alerts/front_door/person_detected", alert()
    )
    zone = "binary_sensor.naila_zone_front_door_person_detected"
    await until(lambda: getattr(hass.states.get(zone), "state", None) == "on")
    # Off again after the 1 s delay (real time here).
    await until(lambda: hass.states.get(zone).state == "off", seconds=5)

    def device(request: dict[str, Any]) -> None:
        peer.publish(
            "naila/devices/front_cam/media/snapshot",
            {
                "request_id": request["request_id"],
                "media_type": "image",
                "format": "jpeg",
                "data": base64.b64encode(JPEG).decode(),
            },
        )

    await hass.async_add_executor_job(peer.answer, "naila/devices/front_cam/media/request", device)
    await asyncio.sleep(0.2)  # let the peer's SUBSCRIBE reach the broker
    result = await hass.services.async_call(
        DOMAIN, "request_snapshot", {"device_id": "front_cam"}, blocking=True, return_response=True
    )
    assert base64.b64decode(result["image"]) == JPEG

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
