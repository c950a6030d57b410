"""Per-device limit on signaling messages (token bucket), so one noisy device cannot flood."""

from __future__ import annotations

import logging
from collections import OrderedDict

_LOGGER = logging.getLogger(__name__)
MAX_TRACKED_DEVICES = 4096
"""Buckets kept at most (least recently used dropped: a dropped bucket starts full again)."""


class TokenBucket:
    """`burst` messages at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self._stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class SignalingLimiter:
    """One bucket per device id; logs one warning per burst of dropped messages."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._dropping: set[str] = set()
        self.dropped = 0

    def allow(self, device_id: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        bucket = self._buckets.get(device_id)
        if bucket is None:
            bucket = self._buckets[device_id] = TokenBucket(self.rate, self.burst, now)
            if len(self._buckets) > MAX_TRACKED_DEVICES:
                old, _ = self._buckets.popitem(last=False)
                self._dropping.discard(old)
        else:
            self._buckets.move_to_end(device_id)
        if bucket.take(now):
            if device_id in self._dropping:
                self._dropping.discard(device_id)
                _LOGGER.info("[%s] signaling back under the rate limit", device_id)
            return True
        self.dropped += 1
        if device_id not in self._dropping:
            self._dropping.add(device_id)
            _LOGGER.warning(
                "[%s] signaling over %.0f messages/s (burst %d): dropping until it slows down",
                device_id,
                self.rate,
                self.burst,
            )
        return False
