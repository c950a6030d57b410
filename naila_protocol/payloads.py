"""JSON payload schemas of the MQTT contract (docs/mqtt.md): parse with a clear error, encode once.

Each payload is a frozen dataclass with `from_json(raw)` (raises `PayloadError` naming the field)
and `to_json()`, built on the field readers of `naila_protocol/fields.py`; the capability
vocabulary is read here once. The Home Assistant integration carries this file as `wire.py`
(and fields.py as `wire_fields.py`, scripts/mirror_protocol.py) under the drift test
`tests/ha/test_topics_mirror.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Self

from naila_protocol.fields import (
    MAX_NAME_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_TEXT_CHARS,
    PayloadError,
    decode_object,
    device_id_of,
    encode_object,
    opt_bool,
    opt_enum,
    opt_number,
    opt_str,
    opt_timestamp,
    req_bool,
    req_str,
    str_list,
    utc_timestamp,
)
from naila_protocol.vocab import ConversationMode, ListeningMode, WakeWord

__all__ = [
    "AUDIO_CAPABILITY_ALIASES",
    "CAMERA_CAPABILITY_ALIASES",
    "MAX_NAME_CHARS",
    "MAX_PAYLOAD_BYTES",
    "MAX_TEXT_CHARS",
    "Capability",
    "ConversationRequest",
    "ConversationResponse",
    "ConversationResponseType",
    "DeviceSettings",
    "DeviceStatus",
    "IntegrationStatus",
    "PayloadError",
    "audio_capable",
    "camera_capable",
    "decode_object",
    "device_id_of",
    "encode_object",
    "opt_bool",
    "opt_enum",
    "opt_number",
    "opt_str",
    "opt_timestamp",
    "req_bool",
    "req_str",
    "speaker_capable",
    "str_list",
    "utc_timestamp",
]
"""The schemas, and the field readers and timestamp of naila_protocol/fields.py that every
reader of a payload needs (one import for the components)."""


class Capability(StrEnum):
    """What a device can do, as its status lists it (`capabilities`)."""

    AUDIO = "audio"
    """A microphone: its speech is transcribed."""
    SPEAKER = "speaker"
    """It plays replies and announcements."""
    CAMERA = "camera"
    """Its video goes through motion gating to vision."""


AUDIO_CAPABILITY_ALIASES = frozenset({"audio", "microphone", "mic"})
"""Spellings of the audio capability accepted from devices (older firmware says `mic`)."""
CAMERA_CAPABILITY_ALIASES = frozenset({"camera", "video"})


def audio_capable(capabilities: Iterable[str]) -> bool:
    """A status `capabilities` list names a microphone (any spelling, any case)."""
    return any(c.lower() in AUDIO_CAPABILITY_ALIASES for c in capabilities)


def speaker_capable(capabilities: Iterable[str]) -> bool:
    return any(c.lower() == Capability.SPEAKER for c in capabilities)


def camera_capable(capabilities: Iterable[str]) -> bool:
    return any(c.lower() in CAMERA_CAPABILITY_ALIASES for c in capabilities)


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """`naila/devices/{id}/status` (retained, the device; empty = removed)."""

    device_id: str
    online: bool
    capabilities: frozenset[str] = frozenset()
    """Lower case, as listed; test them with the has_* properties (they know the aliases)."""
    name: str | None = None
    zone: str | None = None
    listening_mode: ListeningMode | None = None
    wake_word: WakeWord | None = None
    timestamp: str | None = None
    firmware_version: str | None = None
    removed: bool = False
    """The retained status was cleared (empty payload): the device was removed."""

    @property
    def has_audio(self) -> bool:
        return audio_capable(self.capabilities)

    @property
    def has_speaker(self) -> bool:
        return speaker_capable(self.capabilities)

    @property
    def has_camera(self) -> bool:
        return camera_capable(self.capabilities)

    @property
    def is_last_will(self) -> bool:
        """Offline without a timestamp: the broker published the device's last will."""
        return not self.online and not self.removed and self.timestamp is None

    @classmethod
    def from_json(
        cls, raw: bytes | str, topic_device_id: str | None = None, *, listening: bool = True
    ) -> Self:
        """`listening=False` leaves the listening fields unread (None), for readers that do not
        act on them or check them apart, so that a bad one does not hide the device."""
        if not raw:
            if topic_device_id is None:
                raise PayloadError("empty status without a device id")
            return cls(device_id=topic_device_id, online=False, removed=True)
        data = decode_object(raw)
        return cls(
            device_id=device_id_of(data, topic_device_id),
            online=req_bool(data, "online"),
            capabilities=frozenset(c.lower() for c in str_list(data, "capabilities")),
            name=opt_str(data, "name"),
            zone=opt_str(data, "zone"),
            listening_mode=opt_enum(data, "listening_mode", ListeningMode) if listening else None,
            wake_word=opt_enum(data, "wake_word", WakeWord) if listening else None,
            timestamp=opt_timestamp(data),
            firmware_version=opt_str(data, "firmware_version", 64),
        )

    def to_json(self) -> bytes:
        if self.removed:
            return b""
        return encode_object(
            {
                "device_id": self.device_id,
                "online": self.online,
                "capabilities": sorted(self.capabilities),
                "name": self.name,
                "zone": self.zone,
                "listening_mode": self.listening_mode,
                "wake_word": self.wake_word,
                "timestamp": self.timestamp,
                "firmware_version": self.firmware_version,
            }
        )


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    """`naila/devices/{id}/settings` (retained): choices made in HA or on the device page.

    A field left None is "not set here": the device status, then the default applies.
    """

    device_id: str
    conversation: ConversationMode | None = None
    agent_id: str | None = None
    listening_mode: ListeningMode | None = None
    wake_word: WakeWord | None = None
    timestamp: str | None = None

    @classmethod
    def from_json(cls, raw: bytes | str, topic_device_id: str | None = None) -> Self:
        data = decode_object(raw)
        return cls(
            device_id=device_id_of(data, topic_device_id),
            conversation=opt_enum(data, "conversation", ConversationMode),
            agent_id=opt_str(data, "agent_id"),
            listening_mode=opt_enum(data, "listening_mode", ListeningMode),
            wake_word=opt_enum(data, "wake_word", WakeWord),
            timestamp=opt_str(data, "timestamp", 64),
        )

    def to_json(self) -> bytes:
        return encode_object(
            {
                "device_id": self.device_id,
                "conversation": self.conversation,
                "agent_id": self.agent_id,
                "listening_mode": self.listening_mode,
                "wake_word": self.wake_word,
                "timestamp": self.timestamp or utc_timestamp(),
            }
        )


class ConversationResponseType(StrEnum):
    """HA's `intent.IntentResponseType` values a conversation response carries."""

    ACTION_DONE = "action_done"
    QUERY_ANSWER = "query_answer"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ConversationRequest:
    """`naila/conversation/request`: the server asks HA's agent with a final transcript."""

    request_id: str
    device_id: str
    text: str
    language: str = "en"
    conversation_id: str | None = None
    agent_id: str | None = None
    timestamp: str | None = None

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        data = decode_object(raw)
        return cls(
            request_id=req_str(data, "request_id", 64),
            device_id=device_id_of(data),
            text=req_str(data, "text", MAX_TEXT_CHARS),
            language=opt_str(data, "language", 16) or "en",
            conversation_id=opt_str(data, "conversation_id"),
            agent_id=opt_str(data, "agent_id"),
            timestamp=opt_str(data, "timestamp", 64),
        )

    def to_json(self) -> bytes:
        return encode_object(
            {
                "request_id": self.request_id,
                "device_id": self.device_id,
                "text": self.text,
                "language": self.language,
                "conversation_id": self.conversation_id,
                "agent_id": self.agent_id,
                "timestamp": self.timestamp or utc_timestamp(),
            }
        )


@dataclass(frozen=True, slots=True)
class ConversationResponse:
    """`naila/conversation/response/{request_id}`: what HA's agent did with a request."""

    request_id: str
    device_id: str
    handled: bool
    response_type: ConversationResponseType
    speech: str = ""
    error_code: str | None = None
    conversation_id: str | None = None
    targets: tuple[str, ...] = field(default_factory=tuple)
    agent_id: str | None = None
    continue_conversation: bool = False
    timestamp: str | None = None

    @classmethod
    def from_json(cls, raw: bytes | str, topic_request_id: str | None = None) -> Self:
        data = decode_object(raw)
        request_id = req_str(data, "request_id", 64)
        if topic_request_id is not None and request_id != topic_request_id:
            raise PayloadError(f"response for {request_id!r} on the topic of {topic_request_id!r}")
        response_type = opt_enum(data, "response_type", ConversationResponseType)
        if response_type is None:
            raise PayloadError("'response_type' is required")
        return cls(
            request_id=request_id,
            device_id=device_id_of(data),
            handled=req_bool(data, "handled"),
            response_type=response_type,
            speech=opt_str(data, "speech", MAX_TEXT_CHARS) or "",
            error_code=opt_str(data, "error_code", 64),
            conversation_id=opt_str(data, "conversation_id"),
            targets=str_list(data, "targets", 256),
            agent_id=opt_str(data, "agent_id"),
            continue_conversation=bool(opt_bool(data, "continue_conversation", False)),
            timestamp=opt_str(data, "timestamp", 64),
        )

    def to_json(self) -> bytes:
        return encode_object(
            {
                "request_id": self.request_id,
                "device_id": self.device_id,
                "handled": self.handled,
                "response_type": self.response_type,
                "speech": self.speech,
                "error_code": self.error_code,
                "conversation_id": self.conversation_id,
                "targets": list(self.targets),
                "agent_id": self.agent_id,
                "continue_conversation": self.continue_conversation,
                "timestamp": self.timestamp or utc_timestamp(),
            }
        )


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    """`naila/integration/status` (retained, the HA integration; its last will says offline)."""

    online: bool
    version: str | None = None
    timestamp: str | None = None

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        if not raw:
            return cls(online=False)
        data = decode_object(raw)
        return cls(
            online=req_bool(data, "online"),
            version=opt_str(data, "version", 32),
            timestamp=opt_str(data, "timestamp", 64),
        )

    def to_json(self) -> bytes:
        return encode_object(
            {
                "online": self.online,
                "version": self.version,
                "timestamp": self.timestamp or utc_timestamp(),
            }
        )
