"""Per-device settings chosen in HA (selects) and published retained for the server and gateway."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from homeassistant.components import mqtt
from homeassistant.components.mqtt import ReceiveMessage
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .const import QOS_RELIABLE
from .models import settings_key
from .payloads import raw_payload
from .vocab import DEFAULT_CONVERSATION_AGENT, DEFAULT_WAKE_WORD
from .wire import DeviceSettings

if TYPE_CHECKING:
    from .hub import NailaHub

_LOGGER = logging.getLogger(__name__)

FOLLOW_UP_SECONDS = 60.0
"""How long the answer to a `start_conversation` prompt keeps its conversation and prompt."""
SETTING_FIELDS = tuple(f.name for f in fields(DeviceSettings) if f.name != "device_id")


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What the next request of a device continues (after `start_conversation`)."""

    conversation_id: str | None
    extra_system_prompt: str | None
    expires: float


class DeviceSettingsStore:
    """The settings of every voice device; one retained `DeviceSettings` per device."""

    def __init__(self, hub: NailaHub) -> None:
        self.hub = hub
        self._settings: dict[str, DeviceSettings] = {}
        self._follow_ups: dict[str, FollowUp] = {}

    def get(self, device_id: str) -> DeviceSettings:
        return self._settings.get(device_id) or DeviceSettings(device_id)

    def agent_id(self, device_id: str) -> str:
        """The conversation agent chosen for a device (HA's own agent by default)."""
        return self.get(device_id).agent_id or DEFAULT_CONVERSATION_AGENT

    def wake_word(self, device_id: str) -> str:
        """The wake word model set for a device (status default, then NAILA's default)."""
        status = self.hub.devices.get(device_id)
        return str(
            self.get(device_id).wake_word or getattr(status, "wake_word", None) or DEFAULT_WAKE_WORD
        )

    def restore(self, device_id: str, field: str, value: Any) -> None:
        """A select restored its last state: keep it unless the broker told us otherwise."""
        current = self.get(device_id)
        if getattr(current, field) is None:
            self._settings[device_id] = replace(current, **{field: value})

    async def async_set(self, device_id: str, field: str, value: Any) -> None:
        """A user picked a value: publish the device's settings (retained)."""
        settings = replace(self.get(device_id), timestamp=None, **{field: value})
        self._settings[device_id] = settings
        await mqtt.async_publish(
            self.hub.hass,
            self.hub.topics.device_settings(device_id),
            settings.to_json(),
            QOS_RELIABLE,
            True,
        )
        async_dispatcher_send(self.hub.hass, self.hub.signal(settings_key(device_id)), settings)

    def on_settings(self, msg: ReceiveMessage) -> None:
        """Retained settings from the broker (published by us or on the device page)."""
        parsed = self.hub.topics.parse_device_topic(msg.topic)
        if parsed is None or not msg.payload:
            return
        device_id = parsed[0]
        incoming = DeviceSettings.from_json(raw_payload(msg), device_id)
        current = self.get(device_id)
        merged = replace(
            current,
            **{
                name: getattr(incoming, name)
                for name in SETTING_FIELDS
                if getattr(incoming, name) is not None
            },
        )
        if merged != current:
            self._settings[device_id] = merged
            async_dispatcher_send(self.hub.hass, self.hub.signal(settings_key(device_id)), merged)

    # ---- start_conversation follow-ups ---------------------------------------------

    def expect_follow_up(
        self, device_id: str, conversation_id: str | None, extra_system_prompt: str | None
    ) -> None:
        """The next request of this device answers a prompt HA just spoke."""
        self._follow_ups[device_id] = FollowUp(
            conversation_id, extra_system_prompt, time.monotonic() + FOLLOW_UP_SECONDS
        )

    def pop_follow_up(self, device_id: str) -> FollowUp | None:
        follow_up = self._follow_ups.pop(device_id, None)
        if follow_up is None or follow_up.expires < time.monotonic():
            return None
        return follow_up

    def forget(self, device_id: str) -> None:
        self._settings.pop(device_id, None)
        self._follow_ups.pop(device_id, None)
