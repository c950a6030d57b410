"""Parsing and validation of the NAILA MQTT payloads (docs/mqtt.md); no Home Assistant state."""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.util import dt as dt_util

from .const import is_valid_device_id, is_valid_name
from .wire import DeviceStatus as WireDeviceStatus
from .wire import (
    PayloadError,
    audio_capable,
    camera_capable,
    decode_object,
    opt_number,
    opt_str,
    req_bool,
    speaker_capable,
)


def match_filter(topic_filter: str, topic: str) -> list[str] | None:
    """Return the levels matched by each '+' of `topic_filter`, or None if `topic` differs."""
    want = topic_filter.split("/")
    have = topic.split("/")
    if len(want) != len(have):
        return None
    captured: list[str] = []
    for pattern, level in zip(want, have, strict=True):
        if pattern == "+":
            captured.append(level)
        elif pattern != level:
            return None
    return captured


def raw_payload(msg: Any) -> bytes | str:
    """The payload of an MQTT message subscribed with `encoding=None` (bytes)."""
    payload = msg.payload
    return payload if isinstance(payload, str) else bytes(payload)


decode_json = decode_object
"""Decode a UTF-8 JSON object no larger than `max_bytes` (the wire schema's decoder)."""


def _str_list(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(item, str) and len(item) <= 64 for item in value
    ):
        raise PayloadError(f"'{key}' must be a list of short strings")
    return tuple(value[:32])


def parse_timestamp(data: dict[str, Any], key: str = "timestamp") -> datetime | None:
    """Parse an ISO 8601 timestamp; None when it is missing or unreadable."""
    return to_datetime(data.get(key))


def to_datetime(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (UTC when it names no zone); None if unreadable."""
    if not isinstance(value, str):
        return None
    parsed = dt_util.parse_datetime(value)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_util.UTC)


def check_device_id(device_id: str) -> str:
    """Return `device_id` or raise PayloadError when it cannot be a topic level or entity id."""
    if not is_valid_device_id(device_id):
        raise PayloadError(f"invalid device id {device_id[:80]!r}")
    return device_id


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """Retained status of the gateway or the AI server."""

    online: bool
    service_id: str | None
    version: str | None
    services: tuple[str, ...]
    timestamp: datetime | None


def parse_service_status(data: dict[str, Any], id_key: str) -> ServiceStatus:
    """Parse `gateway/status` (id_key 'gateway_id') or `server/status` ('server_id')."""
    return ServiceStatus(
        online=req_bool(data, "online"),
        service_id=opt_str(data, id_key, 64),
        version=opt_str(data, "version", 64),
        services=_str_list(data, "services"),
        timestamp=parse_timestamp(data),
    )


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """Retained status of one NAILA device, as the entities use it (parsed by the wire schema)."""

    device_id: str
    online: bool
    capabilities: tuple[str, ...]
    """Lower case, sorted."""
    firmware_version: str | None
    name: str | None
    zone: str | None
    timestamp: datetime | None

    @property
    def has_audio(self) -> bool:
        return audio_capable(self.capabilities)

    @property
    def has_speaker(self) -> bool:
        return speaker_capable(self.capabilities)

    @property
    def has_camera(self) -> bool:
        return camera_capable(self.capabilities)


def parse_device_status(device_id: str, payload: bytes | str) -> DeviceStatus:
    """Parse `devices/{id}/status` (wire.DeviceStatus); the id in the payload must match the
    topic when present. A zone that cannot name an HA area and topic level is left out."""
    status = WireDeviceStatus.from_json(payload, device_id, listening=False)
    zone = status.zone if status.zone is not None and is_valid_name(status.zone) else None
    return DeviceStatus(
        device_id=device_id,
        online=status.online,
        capabilities=tuple(sorted(status.capabilities)),
        firmware_version=status.firmware_version,
        name=status.name,
        zone=zone,
        timestamp=to_datetime(status.timestamp),
    )


def parse_metrics(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, float | bool | None]:
    """Keep the numeric/bool metrics among `keys`; wrong types become None (logged by caller)."""
    values: dict[str, float | bool | None] = {}
    for key in keys:
        value = data.get(key)
        if isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
            values[key] = value
        else:
            values[key] = None
    return values


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert from the AI server."""

    alert_type: str
    zone: str
    confidence: float | None
    source_device: str | None
    timestamp: datetime | None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_event_data(self) -> dict[str, Any]:
        """Data for the `naila_alert` bus event and the zone event entity."""
        return {
            "zone": self.zone,
            "alert_type": self.alert_type,
            "confidence": self.confidence,
            "source_device": self.source_device,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            **self.extra,
        }


_ALERT_EXTRA_KEYS = ("label", "bbox", "media_id", "count")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _valid_extra(key: str, value: Any) -> bool:
    """Optional alert fields are kept only when well-formed (dropped silently otherwise)."""
    if key == "label":
        return isinstance(value, str) and len(value) <= 64
    if key == "media_id":
        return isinstance(value, str) and len(value) <= 128
    if key == "count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if key == "bbox":
        return isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)
    return False


def parse_alert(zone: str, alert_type: str, data: dict[str, Any]) -> Alert:
    """Parse an alert published on `alerts/{zone}/{alert_type}`."""
    if not is_valid_name(zone) or not is_valid_name(alert_type):
        raise PayloadError(
            f"invalid zone or alert type in topic ({zone[:80]!r}, {alert_type[:80]!r})"
        )
    for key, expected in (("zone", zone), ("alert_type", alert_type)):
        if data.get(key, expected) != expected:
            raise PayloadError(f"'{key}' in the payload does not match the topic")
    confidence = opt_number(data, "confidence")
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise PayloadError("'confidence' must be between 0 and 1")
    source = opt_str(data, "source_device", 64)
    if source is not None:
        check_device_id(source)
    extra = {key: data[key] for key in _ALERT_EXTRA_KEYS if _valid_extra(key, data.get(key))}
    return Alert(
        alert_type=alert_type,
        zone=zone,
        confidence=confidence,
        source_device=source,
        timestamp=parse_timestamp(data),
        extra=extra,
    )


IMAGE_CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A picture received on `devices/{id}/media/snapshot`."""

    device_id: str
    request_id: str | None
    image_format: str
    width: int | None
    height: int | None
    timestamp: datetime | None
    image: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        return IMAGE_CONTENT_TYPES[self.image_format]


def decode_base64(value: Any, key: str = "data") -> bytes:
    """Decode strict base64 text."""
    if not isinstance(value, str) or not value:
        raise PayloadError(f"'{key}' must be non-empty base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise PayloadError(f"'{key}' is not valid base64") from err


def _opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
        return value
    return None


def parse_snapshot(device_id: str, data: dict[str, Any]) -> Snapshot:
    """Parse a snapshot response (docs/mqtt.md, Snapshots)."""
    image_format = data.get("format", "jpeg")
    if not isinstance(image_format, str) or image_format.lower() not in IMAGE_CONTENT_TYPES:
        raise PayloadError(f"unsupported image format {str(image_format)[:20]!r}")
    if data.get("media_type", "image") != "image":
        raise PayloadError("'media_type' must be 'image'")
    return Snapshot(
        device_id=device_id,
        request_id=opt_str(data, "request_id", 128),
        image_format=image_format.lower(),
        width=_opt_int(data, "width"),
        height=_opt_int(data, "height"),
        timestamp=parse_timestamp(data),
        image=decode_base64(data.get("data")),
    )


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One event from `devices/{id}/events`."""

    device_id: str
    event: str
    request_id: str | None
    data: dict[str, Any]


def parse_device_event(device_id: str, data: dict[str, Any]) -> DeviceEvent:
    """Parse a gateway event about one device."""
    event = opt_str(data, "event", 64)
    if not event:
        raise PayloadError("'event' is missing")
    return DeviceEvent(
        device_id=device_id,
        event=event,
        request_id=opt_str(data, "request_id", 128),
        data=data,
    )


@dataclass(frozen=True, slots=True)
class UploadReply:
    """The AI server's answer on `uploads/{session_id}/reply`."""

    session_id: str
    request_id: str | None
    ok: bool
    answer: str | None
    data: dict[str, Any]

    @property
    def error_message(self) -> str:
        error = self.data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:500]
        return "the AI server reported an error"


def parse_upload_reply(session_id: str, data: dict[str, Any]) -> UploadReply:
    """Parse an upload reply (docs/mqtt.md, "Uploads and questions")."""
    status = data.get("status")
    if status not in ("ok", "error"):
        raise PayloadError("'status' must be 'ok' or 'error'")
    return UploadReply(
        session_id=session_id,
        request_id=opt_str(data, "request_id", 128),
        ok=status == "ok",
        answer=opt_str(data, "answer", 100_000),
        data=data,
    )
