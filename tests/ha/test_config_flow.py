"""Config, reconfigure, options and MQTT discovery flows."""

import json

import pytest
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.naila.const import CONF_ALERT_TYPES, CONF_OFF_DELAY, CONF_PREFIX, DOMAIN

from .payloads import device_status


def _discovery(payload: str | bytes, topic: str = "naila/gateway/status") -> MqttServiceInfo:
    return MqttServiceInfo(
        topic=topic,
        payload=payload,
        qos=1,
        retain=True,
        subscribed_topic="naila/gateway/status",
        timestamp=0,
    )


async def test_user_flow_creates_entry(hass: HomeAssistant, mqtt: MqttMockHAClient) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PREFIX: "home/naila"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "NAILA (home/naila)"
    assert result["data"] == {CONF_PREFIX: "home/naila"}
    assert result["result"].unique_id == "home/naila"


@pytest.mark.parametrize(
    "prefix", ["", "a/+/b", "a/#", "/naila", "naila/", "a//b", "$SYS", "my naila"]
)
async def test_user_flow_rejects_bad_prefix(
    hass: HomeAssistant, mqtt: MqttMockHAClient, prefix: str
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PREFIX: prefix}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_prefix"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PREFIX: "naila"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_aborts_without_mqtt(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_user_flow_aborts_when_prefix_configured(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PREFIX: "naila"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_changes_prefix(
    hass: HomeAssistant, entry: MockConfigEntry, publish
) -> None:
    publish("naila/devices/old_dev/status", device_status("old_dev"), True)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.old_dev_connectivity") is not None
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PREFIX: "house"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {CONF_PREFIX: "house"}
    assert entry.unique_id == "house"
    assert entry.runtime_data.hub.prefix == "house"
    # Devices and entities of the old prefix are gone; the new prefix has its gateway.
    registry = dr.async_get(hass)
    assert registry.async_get_device(identifiers={(DOMAIN, "naila/devices/old_dev")}) is None
    assert registry.async_get_device(identifiers={(DOMAIN, "naila/gateway")}) is None
    assert registry.async_get_device(identifiers={(DOMAIN, "house/gateway")}) is not None
    assert er.async_get(hass).async_get("binary_sensor.old_dev_connectivity") is None
    publish("house/devices/new_dev/status", device_status("new_dev"), True)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.new_dev_connectivity").state == "on"


async def test_reconfigure_refuses_prefix_of_other_entry(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="other", data={CONF_PREFIX: "other"}).add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PREFIX: "other"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "prefix_in_use"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PREFIX: "a/+"})
    assert result["errors"] == {"base": "invalid_prefix"}


async def test_options_flow(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_OFF_DELAY: 5, CONF_ALERT_TYPES: ["person_detected", "bad type"]}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_alert_type"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_OFF_DELAY: 5, CONF_ALERT_TYPES: ["person_detected"]}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_OFF_DELAY: 5, CONF_ALERT_TYPES: ["person_detected"]}
    # The entry reloaded with the new options.
    assert entry.runtime_data.hub.off_delay == 5
    assert entry.runtime_data.hub.alerts.sensor_alert_types == {"person_detected"}


async def test_discovery_flow(hass: HomeAssistant, mqtt: MqttMockHAClient) -> None:
    payload = json.dumps({"online": True, "gateway_id": "pi-gw", "version": "0.1.0"})
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_MQTT}, data=_discovery(payload)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_PREFIX: "naila"}


@pytest.mark.parametrize(
    "payload",
    ["", "not json", "[1, 2]", '{"online": "yes"}', b"\xff\xfe", "{" * 70000],
)
async def test_discovery_aborts_on_bad_payload(
    hass: HomeAssistant, mqtt: MqttMockHAClient, payload: str | bytes
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_MQTT}, data=_discovery(payload)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery_info"


async def test_discovery_aborts_when_configured(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_MQTT},
        data=_discovery('{"online": true}'),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_gateway_status_on_broker_starts_discovery(
    hass: HomeAssistant, mqtt: MqttMockHAClient, publish
) -> None:
    """The manifest's `mqtt` key makes HA's MQTT integration offer NAILA when a gateway appears."""
    publish("naila/gateway/status", {"online": True, "gateway_id": "pi-gw"}, retain=True)
    await hass.async_block_till_done(wait_background_tasks=True)  # NAILA's dependencies load
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["mqtt"]
