"""Assist satellite per NAILA voice device with a speaker: announcements, start_conversation,
timers, and the device's state (idle / listening / processing / responding)."""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from homeassistant.components import media_source
from homeassistant.components.assist_pipeline import PipelineEvent
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityFeature,
    AssistSatelliteWakeWord,
)
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.components.intent import (
    TimerEventType,
    TimerInfo,
    async_register_timer_handler,
)
from homeassistant.components.media_player.browse_media import async_process_play_media_url
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .checks import check_can_speak
from .commands import MEDIA_WAIT_SECONDS, CommandMessage, check_media_url
from .const import DEFAULT_ANNOUNCE_TIMEOUT, DOMAIN
from .entity import NailaEntity
from .hub import NailaConfigEntry, NailaHub
from .models import SIGNAL_NEW_SATELLITE, device_events_key, device_key
from .payloads import DeviceEvent
from .vocab import WAKE_WORD_PHRASES, DeviceCommand, DeviceState, Sound
from .wire import PayloadError

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0
SECONDS_PER_CHARACTER = 0.1
"""Added to the announce timeout per character of the message (speech takes time)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NailaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One satellite per voice device with a speaker, known now or appearing later."""
    hub = entry.runtime_data.hub
    async_add_entities(NailaSatellite(hub, device_id) for device_id in sorted(hub.satellites))

    @callback
    def _add(device_id: str) -> None:
        async_add_entities([NailaSatellite(hub, device_id)])

    entry.async_on_unload(async_dispatcher_connect(hass, hub.signal(SIGNAL_NEW_SATELLITE), _add))


class NailaSatellite(NailaEntity, AssistSatelliteEntity):
    """A NAILA voice device as an Assist satellite; NAILA speaks with its own voice."""

    _attr_name = None
    _attr_supported_features = (
        AssistSatelliteEntityFeature.ANNOUNCE | AssistSatelliteEntityFeature.START_CONVERSATION
    )

    def __init__(self, hub: NailaHub, device_id: str) -> None:
        super().__init__(
            hub,
            device_events_key(device_id),
            f"devices/{device_id}/satellite",
            f"devices/{device_id}",
        )
        self._device_id = device_id
        self._availability_key = device_key(device_id)

    async def async_added_to_hass(self) -> None:
        """Follow the device's events; take HA's timers started on this device."""
        await super().async_added_to_hass()
        if self.registry_entry and (ha_device := self.registry_entry.device_id):
            self.async_on_remove(async_register_timer_handler(self.hass, ha_device, self._on_timer))

    def _source_available(self) -> bool:
        status = self.hub.devices.get(self._device_id)
        return status is not None and status.online

    def _handle_value(self, value: DeviceEvent) -> None:
        if value.event != "state":
            return
        try:
            state = AssistSatelliteState(DeviceState(str(value.data.get("state"))).value)
        except ValueError:
            _LOGGER.debug("Unknown state from %s: %s", self._device_id, value.data.get("state"))
            return
        self._set_state(state)

    @callback
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """NAILA runs its own pipeline on the AI server; HA's pipeline is not used."""

    # ---- configuration (wake word) -----------------------------------------------

    @callback
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        """NAILA's wake word models; the active one is the device's setting."""
        active = self.hub.settings.wake_word(self._device_id)
        return AssistSatelliteConfiguration(
            available_wake_words=[
                AssistSatelliteWakeWord(id=str(model), wake_word=phrase, trained_languages=["en"])
                for model, phrase in WAKE_WORD_PHRASES.items()
            ],
            active_wake_words=[active],
            max_active_wake_words=1,
        )

    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Choosing a wake word in HA's voice settings sets the device's wake word."""
        if config.active_wake_words:
            await self.hub.settings.async_set(
                self._device_id, "wake_word", config.active_wake_words[0]
            )

    # ---- announcements -------------------------------------------------------------

    async def _resolve_announcement_media_id(
        self,
        message: str,
        media_id: str | None,
        preannounce_media_id: str | None = None,
    ) -> AssistSatelliteAnnouncement:
        """A message is spoken with NAILA's own voice (no HA text-to-speech); media (a media
        source id or a URL) becomes the absolute URL the gateway fetches, as HA's own
        satellites resolve it. The pre-announce sound is NAILA's chime whichever media HA
        names for it (only whether there is one matters)."""
        if not media_id:
            if not message:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="announce_empty",
                    translation_placeholders={"device": self._device_id},
                )
            return AssistSatelliteAnnouncement(
                message=message,
                media_id="",
                original_media_id="",
                tts_token=None,
                media_id_source="tts",
                preannounce_media_id=preannounce_media_id,
            )
        original_media_id = media_id
        source: Literal["url", "media_id"] = "url"
        try:
            if media_source.is_media_source_id(media_id):
                source = "media_id"
                media_id = (await media_source.async_resolve_media(self.hass, media_id, None)).url
        except HomeAssistantError as err:  # media_source.Unresolvable, mostly
            raise _unresolvable(original_media_id, err) from err
        try:
            url = async_process_play_media_url(self.hass, media_id)
        except HomeAssistantError as err:  # no URL of Home Assistant the gateway could use
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="media_no_url",
                translation_placeholders={"error": str(err)},
            ) from err
        try:
            check_media_url(url)  # e.g. a relative path that is not Home Assistant's
        except PayloadError as err:
            raise _unresolvable(original_media_id, err) from err
        return AssistSatelliteAnnouncement(
            message=message,
            media_id=url,
            original_media_id=original_media_id,
            tts_token=None,
            media_id_source=source,
            preannounce_media_id=preannounce_media_id,
        )

    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        """Speak the announcement on the device; returns once it finished playing."""
        await self._async_speak(DeviceCommand.ANNOUNCE, announcement)

    async def async_start_conversation(
        self, start_announcement: AssistSatelliteAnnouncement
    ) -> None:
        """Speak the prompt, then the device listens; its answer continues this conversation."""
        self.hub.settings.expect_follow_up(
            self._device_id, self._conversation_id, self._extra_system_prompt
        )
        await self._async_speak(DeviceCommand.START_CONVERSATION, start_announcement)

    async def _async_speak(
        self, command: DeviceCommand, announcement: AssistSatelliteAnnouncement
    ) -> None:
        sound = Sound.CHIME if announcement.preannounce_media_id else None
        await self.async_speak(command, announcement.message, sound, announcement.media_id or None)

    async def async_speak(
        self,
        command: DeviceCommand,
        message: str,
        sound: Sound | None,
        media_url: str | None = None,
    ) -> None:
        """Publish a spoken command and wait for the device's `announced`.

        With `media_url` the gateway fetches and plays that audio (`message` describes it).
        """
        check_can_speak(self.hub, self._device_id)
        request = CommandMessage(
            command,
            request_id=f"sat_{uuid.uuid4().hex[:16]}",
            message=message,
            sound=sound,
            media_url=media_url,
        )
        wait = DEFAULT_ANNOUNCE_TIMEOUT + (
            MEDIA_WAIT_SECONDS if media_url else SECONDS_PER_CHARACTER * len(message)
        )
        try:
            event = await self.hub.requests.async_command(self._device_id, request, wait)
        except TimeoutError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="announce_timeout",
                translation_placeholders={"device": self._device_id, "seconds": f"{wait:.0f}"},
            ) from err
        if event.event != "announced":
            detail = event.data.get("message")
            code = event.data.get("code")
            placeholders = {
                "device": self._device_id,
                "message": detail[:300] if isinstance(detail, str) else event.event,
            }
            key = "announce_failed"
            if media_url is not None and isinstance(code, str) and code.startswith("media_"):
                key, placeholders["code"] = "media_failed", code
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders=placeholders,
            )

    # ---- timers ----------------------------------------------------------------------

    @callback
    def _on_timer(self, event_type: TimerEventType, timer: TimerInfo) -> None:
        """A finished timer rings on the device: the timer sound, then what finished."""
        if event_type is not TimerEventType.FINISHED:
            return
        self.hub.entry.async_create_background_task(
            self.hass, self._async_ring(timer), f"naila timer {self._device_id}"
        )

    async def _async_ring(self, timer: TimerInfo) -> None:
        message = f"Your {timer.name} timer is finished" if timer.name else "Your timer is finished"
        try:
            await self.async_speak(DeviceCommand.ANNOUNCE, message, Sound.TIMER)
        except HomeAssistantError as err:
            _LOGGER.warning("Timer could not ring on %s: %s", self._device_id, err)


def _unresolvable(media_id: str, err: Exception) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="media_unresolvable",
        translation_placeholders={"media": media_id[:300], "error": str(err)[:300]},
    )
