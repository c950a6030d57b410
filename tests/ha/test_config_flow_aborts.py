"""Config flow aborts: a disabled MQTT integration, discovery on a topic NAILA does not own."""

import json

import pytest
from homeassistant import config_entries
from homeassistant.components import mqtt as ha_mqtt
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.naila.const import DOMAIN


async def test_user_flow_aborts_while_the_mqtt_integration_is_disabled(
    hass: HomeAssistant,
) -> None:
    MockConfigEntry(
        domain=ha_mqtt.DOMAIN,
        data={"broker": "127.0.0.1"},
        disabled_by=config_entries.ConfigEntryDisabler.USER,
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_connected"


@pytest.mark.parametrize(
    "topic", ["naila/gateway/metrics", "bad prefix/gateway/status", "$SYS/gateway/status"]
)
async def test_discovery_on_a_foreign_topic_aborts(
    hass: HomeAssistant, mqtt: MqttMockHAClient, topic: str
) -> None:
    discovery = MqttServiceInfo(
        topic=topic,
        payload=json.dumps({"online": True, "gateway_id": "gw"}),
        qos=1,
        retain=True,
        subscribed_topic="naila/gateway/status",
        timestamp=0,
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_MQTT}, data=discovery
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery_info"
    assert hass.config_entries.async_entries(DOMAIN) == []
