"""Gateway counters and the `gateway/metrics` payload (docs/mqtt.md)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psutil

from naila_protocol.metrics import GatewayMetric
from naila_protocol.payloads import utc_timestamp


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
            "timestamp": utc_timestamp(),
            GatewayMetric.SESSIONS: sessions,
            GatewayMetric.CPU_PERCENT: self._process.cpu_percent(None),
            GatewayMetric.FRAMES_IN: m.frames_in,
            GatewayMetric.FRAMES_OUT: m.frames_out,
            GatewayMetric.FRAMES_DROPPED: m.frames_dropped,
            GatewayMetric.UTTERANCES: m.utterances,
            GatewayMetric.REPLIES: m.replies,
            GatewayMetric.BARGE_INS: m.barge_ins,
            GatewayMetric.LAST_FIRST_AUDIO_MS: m.last_first_audio_ms,
            GatewayMetric.SERVER_CONNECTED: server_connected,
            GatewayMetric.TASKS: len(asyncio.all_tasks()),
        }
