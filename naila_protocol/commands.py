"""The `devices/{id}/command` payload (docs/mqtt.md "Commands"): one schema for every command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from naila_protocol.payloads import (
    MAX_TEXT_CHARS,
    PayloadError,
    decode_object,
    device_id_of,
    encode_object,
    opt_enum,
    opt_str,
)
from naila_protocol.topics import is_valid_device_id
from naila_protocol.vocab import DeviceCommand, ListeningMode, Sound, WakeWord

_SPOKEN = frozenset({DeviceCommand.ANNOUNCE, DeviceCommand.START_CONVERSATION})


@dataclass(frozen=True, slots=True)
class CommandMessage:
    """One command to a device; the fields a command does not use stay None."""

    command: DeviceCommand
    device_id: str | None = None
    request_id: str | None = None
    message: str = ""
    """announce / start_conversation: the text spoken on the device."""
    sound: Sound | None = None
    """announce / start_conversation: a sound played before the message."""
    listening_mode: ListeningMode | None = None
    """set_listening"""
    wake_word: WakeWord | None = None
    """set_listening"""

    @classmethod
    def from_json(cls, raw: bytes | str, topic_device_id: str | None = None) -> Self:
        data = decode_object(raw)
        command = opt_enum(data, "command", DeviceCommand)
        if command is None:
            raise PayloadError("'command' is required")
        request_id = opt_str(data, "request_id", 64)
        if request_id is not None and not is_valid_device_id(request_id):
            raise PayloadError("'request_id' must be 1-64 of [A-Za-z0-9_.:-]")
        message = (opt_str(data, "message", MAX_TEXT_CHARS) or "").strip()
        sound = opt_enum(data, "sound", Sound)
        if command in _SPOKEN and not message and not (sound and command is DeviceCommand.ANNOUNCE):
            raise PayloadError(f"{command} needs a non-empty 'message'")
        mode = opt_enum(data, "listening_mode", ListeningMode)
        wake_word = opt_enum(data, "wake_word", WakeWord)
        if command is DeviceCommand.SET_LISTENING and mode is None and wake_word is None:
            raise PayloadError("set_listening needs 'listening_mode' or 'wake_word'")
        return cls(
            command=command,
            device_id=(
                device_id_of(data, topic_device_id)
                if topic_device_id is not None or "device_id" in data
                else None
            ),
            request_id=request_id,
            message=message if command in _SPOKEN else "",
            sound=sound if command in _SPOKEN else None,
            listening_mode=mode if command is DeviceCommand.SET_LISTENING else None,
            wake_word=wake_word if command is DeviceCommand.SET_LISTENING else None,
        )

    def to_json(self) -> bytes:
        return encode_object(
            {
                "command": self.command,
                "device_id": self.device_id,
                "request_id": self.request_id,
                "message": self.message or None,
                "sound": self.sound,
                "listening_mode": self.listening_mode,
                "wake_word": self.wake_word,
            }
        )
