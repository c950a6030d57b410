"""JSON payload schemas of the MQTT contract (docs/mqtt.md): parse with a clear error, encode once.

Each payload is a frozen dataclass with `from_json(raw)` (raises `PayloadError` naming the field)
and `to_json()`. The Home Assistant integration mirrors the vocabularies and field names in
`custom_components/naila/const.py` under the drift test `tests/ha/test_topics_mirror.py`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self, TypeVar

from naila_protocol.topics import MAX_DEVICE_ID_LENGTH, is_valid_device_id
from naila_protocol.vocab import ConversationMode, ListeningMode, WakeWord

MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest JSON payload any NAILA component parses (uploads travel as their own topics)."""
MAX_TEXT_CHARS = 2000
"""Longest transcript, reply or announcement text."""
MAX_NAME_CHARS = 128

_E = TypeVar("_E", bound=StrEnum)


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


class PayloadError(ValueError):
    """A payload that does not follow the contract; the message says why."""


def utc_timestamp(moment: datetime | float | None = None, *, milliseconds: bool = False) -> str:
    """The one timestamp format on the wire: ISO 8601 UTC with a `Z`, whole seconds (or
    milliseconds: a device status, which must change when re-sent within a second).

    `moment` is a datetime, a `time.time()` value, or None for now."""
    if moment is None:
        moment = datetime.now(UTC)
    elif not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    moment = moment.astimezone(UTC)
    if milliseconds:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_object(
    raw: bytes | bytearray | str, max_bytes: int = MAX_PAYLOAD_BYTES
) -> dict[str, Any]:
    """Decode a UTF-8 JSON object no larger than `max_bytes`."""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    if len(data) > max_bytes:
        raise PayloadError(f"payload of {len(data)} bytes exceeds the limit of {max_bytes}")
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as err:
        raise PayloadError(f"not valid UTF-8 JSON: {err}") from None
    if not isinstance(value, dict):
        raise PayloadError(f"expected a JSON object, got {type(value).__name__}")
    return value


def encode_object(data: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; keys whose value is None are left out."""
    return json.dumps(
        {k: v for k, v in data.items() if v is not None}, separators=(",", ":")
    ).encode()


def opt_str(data: dict[str, Any], key: str, max_len: int = MAX_NAME_CHARS) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise PayloadError(f"'{key}' must be a string of at most {max_len} characters")
    return value


def req_str(data: dict[str, Any], key: str, max_len: int = MAX_NAME_CHARS) -> str:
    value = opt_str(data, key, max_len)
    if not value:
        raise PayloadError(f"'{key}' is required")
    return value


def opt_bool(data: dict[str, Any], key: str, default: bool | None = None) -> bool | None:
    value = data.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise PayloadError(f"'{key}' must be true or false")
    return value


def req_bool(data: dict[str, Any], key: str) -> bool:
    value = opt_bool(data, key)
    if value is None:
        raise PayloadError(f"'{key}' must be true or false")
    return value


def opt_number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PayloadError(f"'{key}' must be a finite number")
    return float(value)


def opt_timestamp(data: dict[str, Any], key: str = "timestamp") -> str | None:
    """A timestamp as sent (ISO 8601 text), or epoch seconds (firmware without a calendar)
    written in the one format."""
    value = data.get(key)
    if value is None or isinstance(value, str):
        return opt_str(data, key, 64)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"'{key}' must be an ISO 8601 string or epoch seconds")
    try:
        return utc_timestamp(float(value))
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"'{key}' is not a time: {value!r}") from None


def str_list(data: dict[str, Any], key: str, max_items: int = 64) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > max_items
        or not all(isinstance(item, str) and len(item) <= MAX_NAME_CHARS for item in value)
    ):
        raise PayloadError(f"'{key}' must be a list of at most {max_items} short strings")
    return tuple(value)


def opt_enum(data: dict[str, Any], key: str, enum: type[_E]) -> _E | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise PayloadError(f"'{key}' must be one of {allowed}, got {value!r}") from None


def device_id_of(data: dict[str, Any], topic_device_id: str | None = None) -> str:
    """The payload's `device_id` (defaulting to the topic's); a payload naming another is refused."""
    claimed = data.get("device_id", topic_device_id)
    if not isinstance(claimed, str) or not is_valid_device_id(claimed):
        raise PayloadError(
            f"'device_id' must be an id of at most {MAX_DEVICE_ID_LENGTH} safe characters"
        )
    if topic_device_id is not None and claimed != topic_device_id:
        raise PayloadError(f"payload names device {claimed!r} on the topic of {topic_device_id!r}")
    return claimed


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
        return bool(self.capabilities & AUDIO_CAPABILITY_ALIASES)

    @property
    def has_speaker(self) -> bool:
        return Capability.SPEAKER in self.capabilities

    @property
    def has_camera(self) -> bool:
        return bool(self.capabilities & CAMERA_CAPABILITY_ALIASES)

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
