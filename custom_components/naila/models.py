"""Data keys, dispatcher signal names and sensor specs shared by the hub and the platforms."""

from __future__ import annotations

from dataclasses import dataclass

from .metric_keys import GatewayMetric, ServerMetric

GATEWAY = "gateway"
SERVER = "server"
GATEWAY_METRIC_KEYS = (
    GatewayMetric.SESSIONS,
    GatewayMetric.CPU_PERCENT,
    GatewayMetric.FRAMES_IN,
    GatewayMetric.FRAMES_OUT,
    GatewayMetric.FRAMES_DROPPED,
    GatewayMetric.UTTERANCES,
    GatewayMetric.LAST_FIRST_AUDIO_MS,
    GatewayMetric.SERVER_CONNECTED,
)
"""The gateway metrics the integration keeps (sensors, diagnostics)."""
SERVER_METRIC_KEYS = (
    ServerMetric.STT_MS,
    ServerMetric.LLM_FIRST_TOKEN_MS,
    ServerMetric.TTS_FIRST_CHUNK_MS,
    ServerMetric.FIRST_AUDIO_MS,
    ServerMetric.TOTAL_MS,
    ServerMetric.REQUESTS_TOTAL,
    ServerMetric.ACTIVE_REQUESTS,
)
"""The AI server metrics the integration keeps (sensors, diagnostics)."""

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
