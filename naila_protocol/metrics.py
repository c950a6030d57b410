"""The keys of the `gateway/metrics` and `server/metrics` payloads (docs/mqtt.md), written once."""

from __future__ import annotations

from enum import StrEnum


class GatewayMetric(StrEnum):
    """Values of one `gateway/metrics` payload (besides `gateway_id` and `timestamp`)."""

    SESSIONS = "sessions"
    CPU_PERCENT = "cpu_percent"
    """The gateway process's CPU share since the previous report."""
    FRAMES_IN = "frames_in"
    FRAMES_OUT = "frames_out"
    FRAMES_DROPPED = "frames_dropped"
    UTTERANCES = "utterances"
    REPLIES = "replies"
    BARGE_INS = "barge_ins"
    LAST_FIRST_AUDIO_MS = "last_first_audio_ms"
    """End of speech to the first reply sample sent to the device, of the last reply."""
    SERVER_CONNECTED = "server_connected"
    TASKS = "tasks"
    """asyncio tasks alive in the gateway process."""


class ServerMetric(StrEnum):
    """Values of one `server/metrics` payload (one per request, besides the ids and route)."""

    STT_MS = "stt_ms"
    LLM_FIRST_TOKEN_MS = "llm_first_token_ms"
    TTS_FIRST_CHUNK_MS = "tts_first_chunk_ms"
    FIRST_AUDIO_MS = "first_audio_ms"
    TOTAL_MS = "total_ms"
    HA_MS = "ha_ms"
    REQUESTS_TOTAL = "requests_total"
    ACTIVE_REQUESTS = "active_requests"
    TASKS = "tasks"


SERVER_STAGE_TIMINGS = (
    ServerMetric.STT_MS,
    ServerMetric.LLM_FIRST_TOKEN_MS,
    ServerMetric.TTS_FIRST_CHUNK_MS,
    ServerMetric.FIRST_AUDIO_MS,
    ServerMetric.TOTAL_MS,
    ServerMetric.HA_MS,
)
"""The per-stage timings of a request (milliseconds; null when the request had no such stage)."""
