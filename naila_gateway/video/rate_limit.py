"""Per-camera limit on frames sent per second."""

from __future__ import annotations


class RateLimiter:
    """Allows an event when at least 1/max_per_second has passed since the last allowed one."""

    def __init__(self, max_per_second: float) -> None:
        self.interval = 1.0 / max_per_second if max_per_second > 0 else 0.0
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        """True (and the time is taken) when an event at `now` fits the limit."""
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True
