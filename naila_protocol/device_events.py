"""Device event payloads the gateway publishes on `devices/{id}/events` (docs/mqtt.md).

Each builder returns the event's fields (`event` first); the gateway adds `device_id` and
`timestamp` (naila_gateway/events.py).
"""

from __future__ import annotations

from typing import Any

from naila_protocol.payloads import MAX_TEXT_CHARS
from naila_protocol.vocab import DeviceState, WakeWord


def state_event(state: DeviceState) -> dict[str, Any]:
    """The `state` device event (on every change of what a voice device is doing)."""
    return {"event": "state", "state": state.value}


def wake_event(model: WakeWord | str) -> dict[str, Any]:
    """The `wake` device event (the wake word was heard)."""
    return {"event": "wake", "model": str(model)}


def transcript_event(request_id: str, text: str, *, audio_ms: int) -> dict[str, Any]:
    """The `transcript` device event: a partial (speculative) transcript of an utterance still
    being spoken; the final one is the `reply` event's `transcript`."""
    return {
        "event": "transcript",
        "request_id": request_id,
        "text": text[:MAX_TEXT_CHARS],
        "final": False,
        "audio_ms": audio_ms,
    }
