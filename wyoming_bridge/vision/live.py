"""Latest analysed frame per camera (gateway motion frames) and recent attachments."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

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


class _Received(Protocol):
    @property
    def received(self) -> float: ...


_T = TypeVar("_T", bound=_Received)


class _Recent(Generic[_T]):
    """The newest item per key, usable for `max_age` seconds after it was received."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._items: dict[str, _T] = {}

    def fresh(self, key: str, now: float | None = None) -> _T | None:
        item = self._items.get(key)
        now = time.time() if now is None else now
        if item is None or now - item.received > self.max_age:
            return None
        return item


class LiveFrames(_Recent[LiveFrame]):
    def put(self, frame: LiveFrame) -> None:
        self._items[frame.device_id] = frame


class Attachments(_Recent[Attachment]):
    """Upload contexts kept for the sender's next spoken question."""

    def remember(self, keys: set[str], context: dict[str, Any]) -> None:
        """Keep the context under each key (session and device id); forget expired ones."""
        now = time.time()
        for old in [k for k, a in self._items.items() if now - a.received > self.max_age]:
            del self._items[old]
        for key in keys:
            self._items[key] = Attachment(context, now)
