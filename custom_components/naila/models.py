"""Data keys, dispatcher signal names and sensor specs shared by the hub and the platforms."""

from __future__ import annotations

from dataclasses import dataclass

GATEWAY = "gateway"
SERVER = "server"
GATEWAY_METRIC_KEYS = (
    "sessions",
    "cpu_percent",
    "frames_in",
    "frames_out",
    "frames_dropped",
    "utterances",
    "last_first_audio_ms",
    "server_connected",
)
SERVER_METRIC_KEYS = (
    "stt_ms",
    "llm_first_token_ms",
    "tts_first_chunk_ms",
    "first_audio_ms",
    "total_ms",
    "requests_total",
    "active_requests",
)

# Dispatcher keys (see NailaHub.signal); entities listen to the key of their data.
SIGNAL_CONNECTION = "connection"
SIGNAL_NEW_DEVICE = "new_device"
SIGNAL_NEW_CAMERA = "new_camera"
SIGNAL_NEW_ZONE = "new_zone"
SIGNAL_NEW_ALERT_SENSOR = "new_alert_sensor"
SIGNAL_NEW_VOICE_DEVICE = "new_voice_device"
SIGNAL_NEW_SATELLITE = "new_satellite"


def status_key(source: str) -> str:
    """Key of the gateway/server status updates."""
    return f"{source}/status"


def metrics_key(source: str) -> str:
    """Key of the gateway/server metrics updates."""
    return f"{source}/metrics"


def device_key(device_id: str) -> str:
    """Key of one device's status updates."""
    return f"devices/{device_id}/status"


def settings_key(device_id: str) -> str:
    """Key of one device's settings (conversation route, agent, listening mode, wake word)."""
    return f"devices/{device_id}/settings"


def device_events_key(device_id: str) -> str:
    """Key of one device's events (state, announced, error ...)."""
    return f"devices/{device_id}/events"


def snapshot_key(device_id: str) -> str:
    """Key of one device's snapshots."""
    return f"devices/{device_id}/snapshot"


def zone_event_key(zone: str) -> str:
    """Key of the alerts of one zone (event entity)."""
    return f"zones/{zone}/event"


@dataclass(frozen=True, slots=True)
class AlertSensorSpec:
    """One alert binary_sensor: per zone or per source device, and alert type."""

    scope: str  # "zones" or "devices"
    name: str
    alert_type: str

    @property
    def key(self) -> str:
        return f"{self.scope}/{self.name}/alert/{self.alert_type}"
