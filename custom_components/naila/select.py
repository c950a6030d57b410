"""Selects per voice device: conversation route, conversation agent, listening mode, wake word."""

from __future__ import annotations

from enum import StrEnum

from homeassistant.components import conversation
from homeassistant.components.conversation import agent_manager
from homeassistant.components.select import SelectEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .entity import NailaEntity
from .hub import NailaConfigEntry, NailaHub
from .models import SIGNAL_NEW_VOICE_DEVICE, settings_key
from .vocab import (
    DEFAULT_CONVERSATION_AGENT,
    DEFAULT_CONVERSATION_MODE,
    DEFAULT_LISTENING_MODE,
    DEFAULT_WAKE_WORD,
)
from .wire import DeviceSettings

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NailaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Four selects for each voice device, known now or appearing later."""
    hub = entry.runtime_data.hub

    @callback
    def _add_device(device_id: str) -> None:
        async_add_entities(
            [
                NailaEnumSelect(hub, device_id, "conversation", DEFAULT_CONVERSATION_MODE),
                NailaAgentSelect(hub, device_id),
                NailaEnumSelect(hub, device_id, "listening_mode", DEFAULT_LISTENING_MODE),
                NailaEnumSelect(hub, device_id, "wake_word", DEFAULT_WAKE_WORD),
            ]
        )

    for device_id in sorted(hub.voice_devices):
        _add_device(device_id)
    entry.async_on_unload(
        async_dispatcher_connect(hass, hub.signal(SIGNAL_NEW_VOICE_DEVICE), _add_device)
    )


def agent_names(hass: HomeAssistant) -> dict[str, str]:
    """Conversation agents by id: HA's agent entities and the agents registered the old way."""
    manager = agent_manager.get_agent_manager(hass)
    agents = {info.id: info.name for info in manager.async_get_agent_info()}
    for state in hass.states.async_all(conversation.DOMAIN):
        agents[state.entity_id] = state.name
    return agents


class NailaSettingSelect(NailaEntity, SelectEntity, RestoreEntity):
    """One field of a device's retained settings; the hub's store publishes each change."""

    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, hub: NailaHub, device_id: str, field: str) -> None:
        super().__init__(
            hub, settings_key(device_id), f"devices/{device_id}/{field}", f"devices/{device_id}"
        )
        self._device_id = device_id
        self._field = field
        self._attr_translation_key = field
        self._attr_current_option = None

    async def async_added_to_hass(self) -> None:
        """Restore the last choice (unless the broker already had settings) and follow it."""
        last = await self.async_get_last_state()
        if last is not None and (value := self._to_value(last.state)) is not None:
            self.hub.settings.restore(self._device_id, self._field, value)
        await super().async_added_to_hass()

    def _update_from_hub(self) -> None:
        self._handle_value(self.hub.settings.get(self._device_id))

    def _handle_value(self, value: DeviceSettings) -> None:
        self._attr_current_option = self._to_option(getattr(value, self._field))

    async def async_select_option(self, option: str) -> None:
        """Publish the new choice; the entity follows through the store's signal."""
        await self.hub.settings.async_set(self._device_id, self._field, self._to_value(option))

    def _to_option(self, value: str | None) -> str | None:
        raise NotImplementedError

    def _to_value(self, option: str) -> str | None:
        raise NotImplementedError


class NailaEnumSelect(NailaSettingSelect):
    """A setting with a closed vocabulary; options are its values, names are translated."""

    def __init__(self, hub: NailaHub, device_id: str, field: str, default: StrEnum) -> None:
        super().__init__(hub, device_id, field)
        self._enum: type[StrEnum] = type(default)
        self._default = default
        self._attr_options = [member.value for member in self._enum]

    def _to_option(self, value: str | None) -> str:
        return str(value or self._default)

    def _to_value(self, option: str) -> str | None:
        try:
            return self._enum(option)
        except ValueError:
            return None


class NailaAgentSelect(NailaSettingSelect):
    """The conversation agent of a device, by name; HA's own agent by default."""

    def __init__(self, hub: NailaHub, device_id: str) -> None:
        super().__init__(hub, device_id, "agent_id")
        self._attr_translation_key = "conversation_agent"

    @property
    def options(self) -> list[str]:
        names = list(agent_names(self.hass).values())
        current = self.current_option
        return names if current is None or current in names else [*names, current]

    def _to_option(self, value: str | None) -> str:
        agent_id = value or DEFAULT_CONVERSATION_AGENT
        return agent_names(self.hass).get(agent_id, agent_id)

    def _to_value(self, option: str) -> str | None:
        for agent_id, name in agent_names(self.hass).items():
            if option in (name, agent_id):
                return agent_id
        return None
