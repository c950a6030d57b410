"""Payload builders for gateway -> MQTT messages (docs/mqtt.md)."""

from __future__ import annotations

import json
from typing import Any

from naila_gateway import __version__
from naila_protocol.payloads import utc_timestamp


def device_event(event: str, device_id: str, **fields: Any) -> bytes:
    """`devices/{id}/events` payload."""
    return json.dumps(
        {"event": event, "device_id": device_id, "timestamp": utc_timestamp(), **fields}
    ).encode()


def gateway_status(gateway_id: str, *, online: bool) -> bytes:
    """Retained `gateway/status`; the offline form (timestamp null) is the last will."""
    return json.dumps(
        {
            "online": online,
            "gateway_id": gateway_id,
            "version": __version__,
            "timestamp": utc_timestamp() if online else None,
        }
    ).encode()
