"""Payload builders for gateway -> MQTT messages (docs/mqtt.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from naila_gateway import __version__


def utc_now() -> str:
    """ISO 8601 UTC timestamp, second precision, 'Z' suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def device_event(event: str, device_id: str, **fields: Any) -> bytes:
    """`devices/{id}/events` payload."""
    return json.dumps(
        {"event": event, "device_id": device_id, "timestamp": utc_now(), **fields}
    ).encode()


def gateway_status(gateway_id: str, *, online: bool) -> bytes:
    """Retained `gateway/status`; the offline form (timestamp null) is the last will."""
    return json.dumps(
        {
            "online": online,
            "gateway_id": gateway_id,
            "version": __version__,
            "timestamp": utc_now() if online else None,
        }
    ).encode()
