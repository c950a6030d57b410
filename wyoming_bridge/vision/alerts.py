"""Alerts: which a frame raises, debounced (one per episode, then a cooldown), published."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from naila_protocol.payloads import utc_timestamp
from naila_protocol.topics import Topics

from .analysis import Analysis
from .detection import Detection
from .devices import DeviceRegistry
from .link import Publish
from .store import MediaStore

_LOGGER = logging.getLogger(__name__)


def alert_type_for(label: str) -> str:
    return f"{label.replace(' ', '_')}_detected"


def alerts_in(objects: list[Detection], extra_classes: tuple[str, ...]) -> dict[str, Detection]:
    """alert_type -> the most confident detection raising it (person, fall, configured labels)."""
    found: dict[str, Detection] = {}
    wanted = {"person", *extra_classes}

    def keep(kind: str, det: Detection) -> None:
        if kind not in found or det.confidence > found[kind].confidence:
            found[kind] = det

    for det in objects:
        if det.label in wanted:
            keep(alert_type_for(det.label), det)
        if det.fallen:
            keep("fall_detected", det)
    return found


@dataclass
class _Episode:
    last_seen: float
    last_fired: float | None


class AlertDebouncer:
    """Fires when something appears (not while it stays), at most once per cooldown.

    An episode ends after `clear_after` seconds without the alert type in any frame of the
    device; the next appearance starts a new episode, which fires if the cooldown has passed.
    """

    def __init__(
        self,
        cooldown: float,
        clear_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldown = cooldown
        self.clear_after = clear_after
        self.clock = clock
        self._episodes: dict[tuple[str, str], _Episode] = {}

    def update(self, device_id: str, present: set[str]) -> list[str]:
        """Alert types seen in this frame that should be published now."""
        now = self.clock()
        fire: list[str] = []
        for alert_type in sorted(present):
            key = (device_id, alert_type)
            episode = self._episodes.get(key)
            if episode is None:
                self._episodes[key] = _Episode(now, now)
                fire.append(alert_type)
                continue
            new_episode = now - episode.last_seen > self.clear_after
            cooled = episode.last_fired is None or now - episode.last_fired >= self.cooldown
            episode.last_seen = now
            if new_episode and cooled:
                episode.last_fired = now
                fire.append(alert_type)
        return fire


def alert_payload(
    alert_type: str,
    zone: str,
    det: Detection,
    *,
    source_device: str,
    timestamp: str,
    count: int,
    media_id: str | None,
) -> dict[str, Any]:
    """The alert JSON of docs/mqtt.md."""
    payload: dict[str, Any] = {
        "alert_type": alert_type,
        "zone": zone,
        "confidence": round(det.confidence, 3),
        "source_device": source_device,
        "timestamp": timestamp,
        "label": det.label,
        "bbox": list(det.bbox),
        "count": count,
    }
    if media_id:
        payload["media_id"] = media_id
    return payload


class AlertPublisher:
    """Publishes the alerts an analysed camera frame raises, debounced, maybe with its image."""

    def __init__(
        self,
        *,
        debouncer: AlertDebouncer,
        alert_classes: tuple[str, ...],
        topics: Topics,
        publish: Publish,
        devices: DeviceRegistry,
        store: MediaStore | None,
        stats: dict[str, int],
    ) -> None:
        self.debouncer = debouncer
        self.alert_classes = alert_classes
        self.topics = topics
        self.publish = publish
        self.devices = devices
        self.store = store
        self.stats = stats

    async def raise_alerts(
        self, device_id: str, data: bytes, fmt: str, analysis: Analysis, received: float
    ) -> None:
        present = alerts_in(analysis.objects, self.alert_classes)
        fire = self.debouncer.update(device_id, set(present))
        if not fire:
            return
        zone = self.devices.zone_of(device_id)
        media_id = None
        if self.store is not None:
            record = await asyncio.to_thread(
                self.store.add, "alert", data, media_type="image", fmt=fmt,
                device_id=device_id, zone=zone, event_type=",".join(fire),
                labels=analysis.labels, analysis=analysis.to_json(), created=received,
            )  # fmt: skip
            media_id = record.media_id
        for alert_type in fire:
            det = present[alert_type]
            count = sum(
                1
                for d in analysis.objects
                if (d.fallen if alert_type == "fall_detected" else d.label == det.label)
            )
            payload = alert_payload(
                alert_type, zone, det, source_device=device_id,
                timestamp=utc_timestamp(received), count=count, media_id=media_id,
            )  # fmt: skip
            self.stats["alerts"] += 1
            _LOGGER.info("[%s] alert %s in %s (%.2f)", device_id, alert_type, zone, det.confidence)
            await self.publish(self.topics.alert(zone, alert_type), payload)
            await self.publish(self.topics.alerts_all, payload)
