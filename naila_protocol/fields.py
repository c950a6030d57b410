"""The JSON of the MQTT payloads (docs/mqtt.md): decode and encode, typed field readers that
name the field in their error, and the one timestamp format. The schemas are in payloads.py.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from naila_protocol.topics import MAX_DEVICE_ID_LENGTH, is_valid_device_id

MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest JSON payload any NAILA component parses (uploads travel as their own topics)."""
MAX_TEXT_CHARS = 2000
"""Longest transcript, reply or announcement text."""
MAX_NAME_CHARS = 128

_E = TypeVar("_E", bound=StrEnum)


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
