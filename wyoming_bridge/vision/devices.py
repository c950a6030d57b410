"""What the vision service knows about devices: zone, name, camera, online (from status)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from naila_protocol.payloads import DeviceStatus, PayloadError, camera_capable
from naila_protocol.topics import is_valid_device_id

_LOGGER = logging.getLogger(__name__)


def topic_safe(name: str) -> str:
    """'Front Door' -> 'front_door'; '' if it cannot be one topic level (e.g. has '/', '#')."""
    slug = "_".join(name.strip().lower().split())
    return slug if is_valid_device_id(slug) else ""


@dataclass
class DeviceInfo:
    device_id: str
    online: bool = False
    capabilities: frozenset[str] = field(default_factory=frozenset)
    zone: str | None = None
    name: str | None = None

    @property
    def has_camera(self) -> bool:
        return camera_capable(self.capabilities)


class DeviceRegistry:
    """Device status (retained `devices/{id}/status`) plus the configured device->zone map."""

    def __init__(self, zones: dict[str, str]) -> None:
        self.configured_zones = dict(zones)
        self.devices: dict[str, DeviceInfo] = {}

    def update_from_status(self, device_id: str, payload: bytes) -> None:
        """A status (naila_protocol/payloads.py) updates what it names: a last will carries
        only `online`, so capabilities, zone and name stay as the device last told them."""
        if not is_valid_device_id(device_id):
            return
        try:
            status = DeviceStatus.from_json(payload, device_id, listening=False)
        except PayloadError as err:
            _LOGGER.warning("[%s] malformed status payload ignored: %s", device_id, err)
            return
        if status.removed:
            self.devices.pop(device_id, None)
            return
        info = self.devices.setdefault(device_id, DeviceInfo(device_id))
        info.online = status.online
        info.capabilities = status.capabilities or info.capabilities
        info.zone = status.zone or info.zone
        info.name = status.name or info.name

    def zone_of(self, device_id: str) -> str:
        """Configured zone, else the status `zone`, else the device id itself (topic-safe)."""
        info = self.devices.get(device_id)
        zone = self.configured_zones.get(device_id) or (info.zone if info else None)
        return topic_safe(zone) if zone and topic_safe(zone) else device_id

    def cameras_in_zone(self, zone: str, exclude: str | None = None) -> list[str]:
        """Online camera devices in `zone`."""
        ids = set(self.devices) | set(self.configured_zones)
        return sorted(
            d
            for d in ids
            if d != exclude
            and self.zone_of(d) == zone
            and (info := self.devices.get(d)) is not None
            and info.online
            and info.has_camera
        )

    def has_camera(self, device_id: str) -> bool:
        info = self.devices.get(device_id)
        return bool(info and info.online and info.has_camera)

    def names(self) -> set[str]:
        """Device ids, names and zones a question may mention."""
        found = set(self.devices) | set(self.configured_zones)
        found.update(self.zone_of(d) for d in found.copy())
        found.update(info.name for info in self.devices.values() if info.name)
        return found

    def resolve(self, mentioned: str) -> str:
        """A device name mentioned in a question back to its device id (zones stay as they are)."""
        for info in self.devices.values():
            if info.name == mentioned:
                return info.device_id
        return mentioned
