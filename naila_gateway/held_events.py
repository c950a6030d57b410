"""Device events kept until the device is back on MQTT after an outage of the gateway's link.

After a broker restart every client reconnects, the gateway often first: an event it
publishes before the device has subscribed again reaches nobody (device sessions are not
persistent, and a restarted broker lost them anyway), so a `server_unavailable` or
`interrupted` would be silently lost. While the gateway's link is down, and after it is back
until the device publishes a live (not retained) status — a device subscribes before it
announces itself (docs/mqtt.md) — or `release_after_s` passed, a device's events are kept
here, in order, at most `limit` per device (oldest dropped first).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable

_LOGGER = logging.getLogger(__name__)

RELEASE_AFTER_S = 5.0
"""Seconds after the gateway's reconnect when a device that sent no live status gets its
events anyway (it was connected all along, or it re-announced before the gateway
subscribed)."""
HELD_PER_DEVICE = 64


class HeldEvents:
    def __init__(self, limit: int = HELD_PER_DEVICE) -> None:
        self.limit = limit
        self._link_up = False
        self._awaiting: set[str] = set()
        """Devices not heard live since the gateway's link came back."""
        self._held: dict[str, deque[bytes]] = {}

    def link_down(self) -> None:
        self._link_up = False

    def link_up(self, devices: Iterable[str]) -> None:
        """The gateway's link is back: `devices` (those it knows) must announce themselves."""
        self._link_up = True
        self._awaiting = set(devices) | set(self._held)

    def holds(self, device_id: str) -> bool:
        return not self._link_up or device_id in self._awaiting

    def add(self, device_id: str, payload: bytes) -> None:
        held = self._held.setdefault(device_id, deque())
        if len(held) >= self.limit:
            held.popleft()
            _LOGGER.warning(
                "[%s] too many events held for the device, dropped the oldest", device_id
            )
        held.append(payload)

    def device_back(self, device_id: str) -> list[bytes]:
        """The device published a live status: its held events, oldest first."""
        if not self._link_up:
            return []
        self._awaiting.discard(device_id)
        return list(self._held.pop(device_id, ()))

    def release_all(self) -> dict[str, list[bytes]]:
        """`release_after_s` after the reconnect: every device's held events."""
        if not self._link_up:
            return {}
        self._awaiting.clear()
        held, self._held = self._held, {}
        return {device_id: list(events) for device_id, events in held.items()}
