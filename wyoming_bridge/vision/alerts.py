"""Which alerts a frame raises, with debounce: one alert per episode, then a cooldown."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .detection import Detection


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
