"""The `devices/{id}/command` payload (docs/mqtt.md "Commands"): one schema for every command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

from naila_protocol.fields import (
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
MAX_URL_CHARS = 2048
"""Longest `media_url`."""
DEFAULT_MEDIA_TIMEOUT = 10.0
"""Seconds the gateway may take to fetch a `media_url` (connection and whole body)."""
DEFAULT_MEDIA_MAX_BYTES = 8 * 1024 * 1024
"""Largest `media_url` body the gateway downloads."""
DEFAULT_MEDIA_MAX_SECONDS = 50.0
"""Longest audio of a `media_url` the gateway plays (it must fit the device's output buffer)."""
MEDIA_WAIT_SECONDS = DEFAULT_MEDIA_TIMEOUT + DEFAULT_MEDIA_MAX_SECONDS
"""How much longer than for text whoever sends a `media_url` waits for `announced`."""


def check_media_url(url: str) -> str:
    """An absolute http(s) URL without spaces or control characters, else PayloadError."""
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise PayloadError(f"'media_url' is not a URL: {err}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PayloadError("'media_url' must be an absolute http:// or https:// URL")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise PayloadError("'media_url' must not contain spaces or control characters")
    return url


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
    media_url: str | None = None
    """announce / start_conversation: audio fetched over HTTP(S) and played instead of
    speaking `message` (which then only describes it)."""
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
        media_url = opt_str(data, "media_url", MAX_URL_CHARS)
        if media_url is not None and command in _SPOKEN:
            check_media_url(media_url)
        if (
            command in _SPOKEN
            and not message
            and not media_url
            and not (sound and command is DeviceCommand.ANNOUNCE)
        ):
            raise PayloadError(f"{command} needs a non-empty 'message' or a 'media_url'")
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
            media_url=media_url if command in _SPOKEN else None,
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
                "media_url": self.media_url,
                "listening_mode": self.listening_mode,
                "wake_word": self.wake_word,
            }
        )
