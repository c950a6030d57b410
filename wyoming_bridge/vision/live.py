"""Latest analysed frame per camera (gateway motion frames) and recent attachments."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .analysis import Analysis


@dataclass
class LiveFrame:
    device_id: str
    jpeg: bytes
    analysis: Analysis
    received: float
    """time.time() of arrival."""


@dataclass
class Attachment:
    """An upload's visual context, kept so the sender's next spoken question can use it."""

    context: dict[str, Any]
    received: float


class LiveFrames:
    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._frames: dict[str, LiveFrame] = {}

    def put(self, frame: LiveFrame) -> None:
        self._frames[frame.device_id] = frame

    def fresh(self, device_id: str, now: float | None = None) -> LiveFrame | None:
        frame = self._frames.get(device_id)
        now = time.time() if now is None else now
        if frame is None or now - frame.received > self.max_age:
            return None
        return frame
