"""Device events out: `devices/{id}/events`, held across an outage of the gateway's MQTT link
until the device is back (held_events.py), and copied to local listeners (the page's feed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from naila_gateway.events import device_event
from naila_gateway.held_events import RELEASE_AFTER_S, HeldEvents


class DeviceEventPublisher:
    """`send(device_id, payload)` puts one event on MQTT; `present()` names the devices the
    gateway knows to be there (online statuses and sessions) when its link comes back."""

    def __init__(
        self,
        send: Callable[[str, bytes], None],
        present: Callable[[], Iterable[str]],
        release_after_s: float = RELEASE_AFTER_S,
    ) -> None:
        self._send = send
        self._present = present
        self._release_after_s = release_after_s
        self.held = HeldEvents()
        self.taps: list[Callable[[str, bytes], None]] = []
        """Called with (device_id, payload) for every device event published."""
        self._release_timer: asyncio.TimerHandle | None = None

    def publish(self, device_id: str, event: str, **fields: Any) -> None:
        payload = device_event(event, device_id, **fields)
        if self.held.holds(device_id):
            self.held.add(device_id, payload)
        else:
            self._send(device_id, payload)
        for tap in self.taps:
            tap(device_id, payload)

    def device_back(self, device_id: str) -> None:
        """A live (not retained) status of the device: it is subscribed again."""
        for payload in self.held.device_back(device_id):
            self._send(device_id, payload)

    def link_state(self, up: bool) -> None:
        """The gateway's MQTT link went down or came back."""
        self._cancel_timer()
        if not up:
            self.held.link_down()
            return
        self.held.link_up(set(self._present()))
        loop = asyncio.get_running_loop()
        self._release_timer = loop.call_later(self._release_after_s, self._release_all)

    def close(self) -> None:
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None

    def _release_all(self) -> None:
        self._release_timer = None
        for device_id, payloads in self.held.release_all().items():
            for payload in payloads:
                self._send(device_id, payload)
