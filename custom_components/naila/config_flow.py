"""Config flow: topic prefix (user, reconfigure, MQTT discovery) and options."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.components import mqtt
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
)
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo

from .const import (
    CONF_ALERT_TYPES,
    CONF_OFF_DELAY,
    CONF_PREFIX,
    DEFAULT_OFF_DELAY,
    DEFAULT_PREFIX,
    DOMAIN,
    KNOWN_ALERT_TYPES,
    MAX_JSON_BYTES,
    Topics,
    is_valid_name,
    is_valid_prefix,
)
from .payloads import decode_json, parse_service_status
from .wire import PayloadError

_DISCOVERY_SUFFIX = Topics("").gateway_status  # "/gateway/status"


def _title(prefix: str) -> str:
    return "NAILA" if prefix == DEFAULT_PREFIX else f"NAILA ({prefix})"


class NailaConfigFlow(ConfigFlow, domain=DOMAIN):
    """One entry per topic prefix."""

    VERSION = 1

    def __init__(self) -> None:
        self._discovered_prefix: str | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> NailaOptionsFlow:
        """Options: alert auto-off delay and which alert types create sensors."""
        return NailaOptionsFlow()

    async def _async_mqtt_abort_reason(self) -> str | None:
        if not self.hass.config_entries.async_entries(mqtt.DOMAIN):
            return "mqtt_not_configured"
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            return "mqtt_not_connected"
        return None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up from the UI."""
        if reason := await self._async_mqtt_abort_reason():
            return self.async_abort(reason=reason)
        return await self._async_step_prefix("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the topic prefix of an existing entry."""
        return await self._async_step_prefix("reconfigure", user_input)

    async def _async_step_prefix(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """The prefix form shared by user and reconfigure."""
        errors: dict[str, str] = {}
        reconfiguring = self.source == SOURCE_RECONFIGURE
        if user_input is not None:
            prefix = user_input[CONF_PREFIX].strip()
            if not is_valid_prefix(prefix):
                errors["base"] = "invalid_prefix"
            elif reconfiguring:
                entry = self._get_reconfigure_entry()
                other = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, prefix)
                if other is not None and other.entry_id != entry.entry_id:
                    errors["base"] = "prefix_in_use"
                else:
                    return self.async_update_reload_and_abort(
                        entry,
                        unique_id=prefix,
                        title=_title(prefix),
                        data_updates={CONF_PREFIX: prefix},
                    )
            else:
                await self.async_set_unique_id(prefix)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=_title(prefix), data={CONF_PREFIX: prefix})
        default = (
            self._get_reconfigure_entry().data[CONF_PREFIX] if reconfiguring else DEFAULT_PREFIX
        )
        if user_input is not None:
            default = user_input[CONF_PREFIX]
        return self.async_show_form(
            step_id=step_id,
            data_schema=vol.Schema({vol.Required(CONF_PREFIX, default=default): TextSelector()}),
            errors=errors,
        )

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """A gateway status appeared on `naila/gateway/status`: offer to set NAILA up."""
        prefix = discovery_info.topic.removesuffix(_DISCOVERY_SUFFIX)
        if prefix == discovery_info.topic or not is_valid_prefix(prefix):
            return self.async_abort(reason="invalid_discovery_info")
        try:  # the gateway's status, read as the hub reads it
            status = parse_service_status(
                decode_json(discovery_info.payload, MAX_JSON_BYTES), "gateway_id"
            )
        except PayloadError:
            return self.async_abort(reason="invalid_discovery_info")
        await self.async_set_unique_id(prefix)
        self._abort_if_unique_id_configured()
        self._discovered_prefix = prefix
        gateway = status.service_id
        self.context["title_placeholders"] = {
            "name": gateway if gateway and is_valid_name(gateway) else prefix
        }
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm a discovered gateway."""
        assert self._discovered_prefix is not None
        if user_input is not None:
            return self.async_create_entry(
                title=_title(self._discovered_prefix),
                data={CONF_PREFIX: self._discovered_prefix},
            )
        self._set_confirm_only()
        return self.async_show_form(
            step_id="discovery_confirm",
            description_placeholders={"prefix": self._discovered_prefix},
        )


class NailaOptionsFlow(OptionsFlow):
    """Alert auto-off delay and the alert types that create binary sensors."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and store the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            types = [t.strip() for t in user_input.get(CONF_ALERT_TYPES, [])]
            if all(is_valid_name(t) for t in types):
                return self.async_create_entry(
                    data={
                        CONF_OFF_DELAY: int(user_input[CONF_OFF_DELAY]),
                        CONF_ALERT_TYPES: sorted(set(types)),
                    }
                )
            errors["base"] = "invalid_alert_type"
        options = self.config_entry.options
        seen: set[str] = set()
        if self.config_entry.state is ConfigEntryState.LOADED:
            seen = set(self.config_entry.runtime_data.hub.alerts.alert_types_seen)
        choices = sorted(set(KNOWN_ALERT_TYPES) | seen | set(options.get(CONF_ALERT_TYPES, [])))
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_OFF_DELAY, default=options.get(CONF_OFF_DELAY, DEFAULT_OFF_DELAY)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=1,
                        max=3600,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Optional(
                    CONF_ALERT_TYPES, default=options.get(CONF_ALERT_TYPES, [])
                ): SelectSelector(
                    SelectSelectorConfig(options=choices, multiple=True, custom_value=True)
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)
