"""Gateway counters and the `gateway/metrics` payload (docs/mqtt.md)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psutil

from naila_gateway.events import utc_now


@dataclass(slots=True)
class GatewayMetrics:
    """Counters shared by all sessions of one gateway (not module state: one per Gateway)."""

    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    utterances: int = 0
    replies: int = 0
    barge_ins: int = 0
    last_first_audio_ms: float | None = None


class MetricsReporter:
    """Builds metrics payloads; CPU is this process's share since the previous report."""

    def __init__(self, gateway_id: str, metrics: GatewayMetrics) -> None:
        self.gateway_id = gateway_id
        self.metrics = metrics
        self._process = psutil.Process()
        self._process.cpu_percent(None)

    def payload(self, *, sessions: int, server_connected: bool) -> dict[str, object]:
        m = self.metrics
        return {
            "gateway_id": self.gateway_id,
            "timestamp": utc_now(),
            "sessions": sessions,
            "cpu_percent": self._process.cpu_percent(None),
            "frames_in": m.frames_in,
            "frames_out": m.frames_out,
            "frames_dropped": m.frames_dropped,
            "utterances": m.utterances,
            "replies": m.replies,
            "barge_ins": m.barge_ins,
            "last_first_audio_ms": m.last_first_audio_ms,
            "server_connected": server_connected,
            "tasks": len(asyncio.all_tasks()),
        }
