"""Fixtures for the NAILA Home Assistant tests (pytest-homeassistant-custom-component)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable
from typing import Any
from unittest.mock import Mock

import pytest
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, MqttMockPahoClient

from custom_components.naila import relay
from custom_components.naila.const import CONF_PREFIX, DOMAIN, Topics

from .real_broker import broker_port, peer, real_mqtt  # noqa: F401 - fixtures of the real-broker tests


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/naila in every test."""


@pytest.fixture(autouse=True)
async def core_integration(request: pytest.FixtureRequest) -> None:
    """HA's core integration, set up in every real instance (conversation needs it)."""
    if "hass" in request.fixturenames:
        hass: HomeAssistant = request.getfixturevalue("hass")
        assert await async_setup_component(hass, "homeassistant", {})


@pytest.fixture(autouse=True)
def patient_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give HA's agents two minutes per conversation request instead of the relay's 10 s.

    HA's default agent loads its intents on the first request: seconds on an idle machine, more
    than 10 s on a loaded one (and under coverage). Tests about the limit set `relay.timeout`.
    """
    monkeypatch.setattr(relay, "AGENT_TIMEOUT", 120.0)


@pytest.fixture
async def mqtt(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, mqtt_client_mock: MqttMockPahoClient
) -> AsyncGenerator[MqttMockHAClient]:
    """HA's MQTT integration on a mocked paho client; closes the socket so no timer lingers."""
    yield mqtt_mock
    mqtt_client_mock.on_socket_close(mqtt_client_mock, None, Mock(fileno=Mock(return_value=-1)))


@pytest.fixture
def topics() -> Topics:
    return Topics("naila")


@pytest.fixture
def entry_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def entry(
    hass: HomeAssistant, mqtt: MqttMockHAClient, entry_options: dict[str, Any]
) -> MockConfigEntry:
    """A loaded NAILA entry for the default prefix."""
    config_entry = MockConfigEntry(
        domain=DOMAIN,
        title="NAILA",
        unique_id="naila",
        data={CONF_PREFIX: "naila"},
        options=entry_options,
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture
def publish(hass: HomeAssistant) -> Callable[..., None]:
    """Deliver a message as the broker would: dicts become JSON."""

    def _publish(topic: str, payload: Any, retain: bool = False) -> None:
        if isinstance(payload, dict | list):
            payload = json.dumps(payload)
        async_fire_mqtt_message(hass, topic, payload, qos=1, retain=retain)

    return _publish


@pytest.fixture
async def responder(hass: HomeAssistant, entry: MockConfigEntry, publish):
    """Subscribe like a device/server would; `answer(topic, fn)` replies with fn(request)."""
    requests: list[tuple[str, dict[str, Any]]] = []
    seen = asyncio.Event()

    async def answer(topic_filter: str, reply: Callable[[str, dict[str, Any]], Any] | None) -> None:
        @callback
        def _on_request(msg: ha_mqtt.ReceiveMessage) -> None:
            request = json.loads(msg.payload)
            requests.append((msg.topic, request))
            seen.set()
            if reply is not None and (response := reply(msg.topic, request)) is not None:
                publish(*response)

        entry.async_on_unload(await ha_mqtt.async_subscribe(hass, topic_filter, _on_request, 1))

    answer.requests = requests
    answer.seen = seen
    return answer
