"""Payloads as the gateway, the AI server and the devices publish them (docs/mqtt.md)."""

from typing import Any

# A real 1x1 JPEG (smallest valid baseline file).
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c"
    "1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc000"
    "0b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400"
    "b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c1"
    "1552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63"
    "6465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6"
    "b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008"
    "010100003f00fbd3ffd9"
)


def device_status(
    device_id: str,
    *,
    online: bool = True,
    capabilities: list[str] | None = None,
    firmware: str = "1.2.0",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "online": online,
        "capabilities": capabilities if capabilities is not None else ["audio", "speaker"],
        "firmware_version": firmware,
        "timestamp": "2026-01-15T10:30:00Z",
        **extra,
    }


def camera_status(device_id: str, **extra: Any) -> dict[str, Any]:
    return device_status(device_id, capabilities=["camera"], **extra)


def alert(
    zone: str = "front_door",
    alert_type: str = "person_detected",
    source: str | None = "front_cam",
    **extra: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "alert_type": alert_type,
        "zone": zone,
        "confidence": 0.92,
        "timestamp": "2026-01-15T10:30:00Z",
        "label": "person",
        "bbox": [10, 20, 100, 200],
        **extra,
    }
    if source is not None:
        payload["source_device"] = source
    return payload
