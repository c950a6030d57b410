"""Device commands and listening choices: what a device's `command`, `settings` and the
listening fields of its status ask of its session (docs/mqtt.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from naila_gateway.listening import ListeningPreferences
from naila_gateway.peer import PeerSession
from naila_gateway.replies import new_request_id
from naila_gateway.signaling import BadMessage, parse_command, parse_listening
from naila_protocol.commands import CommandMessage
from naila_protocol.mqtt import Incoming
from naila_protocol.payloads import DeviceSettings, PayloadError
from naila_protocol.vocab import DeviceCommand

_LOGGER = logging.getLogger(__name__)


class DeviceControl:
    """Runs device commands on the current sessions; keeps each listening choice applied."""

    def __init__(
        self,
        listening: ListeningPreferences,
        sessions: Mapping[str, PeerSession],
        publish_event: Callable[..., None],
    ) -> None:
        self.listening = listening
        self._sessions = sessions
        self._publish_event = publish_event

    def listening_from_status(self, device_id: str, payload: bytes) -> None:
        """The listening fields of a device's status (an empty status forgets the device)."""
        if not payload:
            self.listening.forget(device_id)
            return
        try:
            mode, wake_word = parse_listening(payload)
        except BadMessage as err:
            self._error(device_id, code="bad_status", message=str(err))
            _LOGGER.warning("[%s] listening fields of the status ignored: %s", device_id, err)
            return
        if self.listening.from_status(device_id, mode, wake_word):
            self._apply_listening(device_id)

    async def handle_settings(self, device_id: str, message: Incoming) -> None:
        if not message.payload:
            return  # settings cleared: the current choice stays until another one is made
        try:
            settings = DeviceSettings.from_json(message.payload, device_id)
        except PayloadError as err:
            self._error(device_id, code="bad_settings", message=str(err))
            raise BadMessage(f"settings: {err}") from None
        if self.listening.choose(device_id, settings.listening_mode, settings.wake_word):
            self._apply_listening(device_id)

    async def handle_command(self, device_id: str, message: Incoming) -> None:
        try:
            command = parse_command(message.payload, device_id)
        except BadMessage as err:
            self._error(device_id, code="bad_command", message=str(err))
            raise
        await self.run(device_id, command)

    async def run(self, device_id: str, command: CommandMessage) -> None:
        """One device command, from MQTT or from the gateway's own HTTP side."""
        session = self._sessions.get(device_id)
        if command.command is DeviceCommand.SET_LISTENING:
            if self.listening.choose(device_id, command.listening_mode, command.wake_word):
                self._apply_listening(device_id)
            return
        if command.command is DeviceCommand.STOP:
            if session is not None:
                await session.voice.interrupt(reason="stop")
            return
        request_id = command.request_id or new_request_id()
        if session is None:
            self._error(
                device_id,
                request_id=request_id,
                code="no_session",
                message="device has no audio session",
            )
            return
        if command.command in (DeviceCommand.TALK_START, DeviceCommand.TALK_END):
            if not await session.voice.talk(command.command is DeviceCommand.TALK_START):
                self._error(
                    device_id,
                    request_id=command.request_id,
                    code="not_push_to_talk",
                    message=f"{command.command} needs listening mode push_to_talk",
                )
            return
        await session.voice.announce(
            command.message,
            request_id,
            sound=command.sound,
            media_url=command.media_url,
            converse=command.command is DeviceCommand.START_CONVERSATION,
        )

    def _apply_listening(self, device_id: str) -> None:
        choice = self.listening.of(device_id)
        _LOGGER.info("[%s] listening: %s, wake word %s", device_id, choice.mode, choice.wake_word)
        session = self._sessions.get(device_id)
        if session is not None:
            session.voice.set_listening(choice)

    def _error(self, device_id: str, **fields: Any) -> None:
        self._publish_event(device_id, "error", **fields)
