"""MQTT topic layout (docs/mqtt.md); the one place topic strings are built."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PREFIX = "naila"
DEFAULT_SERVER_ID = "ai-1"
"""Id of an AI server in `{prefix}/server/...` topics unless it is given one."""

QOS_RELIABLE = 1
"""Signaling, commands, status and alerts."""
QOS_TELEMETRY = 0
"""Metrics and other high-rate data whose loss is acceptable."""

_DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
MAX_DEVICE_ID_LENGTH = 64

HA_STATUS_TOPIC = "homeassistant/status"
"""Home Assistant's MQTT birth and last will (`online`/`offline`), outside NAILA's prefix."""


def is_valid_device_id(device_id: str) -> bool:
    """Return True for ids usable as one topic level: 1-64 chars, no '/', '+', '#' or spaces."""
    return bool(_DEVICE_ID_RE.fullmatch(device_id))


@dataclass(frozen=True, slots=True)
class Topics:
    """Builds and parses every NAILA topic under one prefix."""

    prefix: str = DEFAULT_PREFIX

    # gateway / server
    @property
    def gateway_status(self) -> str:
        return f"{self.prefix}/gateway/status"

    @property
    def gateway_metrics(self) -> str:
        return f"{self.prefix}/gateway/metrics"

    @property
    def server_status(self) -> str:
        return f"{self.prefix}/server/status"

    @property
    def server_metrics(self) -> str:
        return f"{self.prefix}/server/metrics"

    @property
    def server_media_request(self) -> str:
        return f"{self.prefix}/server/media/request"

    def server_media_response(self, request_id: str) -> str:
        return f"{self.prefix}/server/media/response/{request_id}"

    @property
    def server_broadcast(self) -> str:
        return f"{self.prefix}/server/broadcast"

    # devices
    def device(self, device_id: str, leaf: str) -> str:
        """`{prefix}/devices/{device_id}/{leaf}`; leaf like 'status' or 'signaling/offer'."""
        return f"{self.prefix}/devices/{device_id}/{leaf}"

    def device_status(self, device_id: str) -> str:
        return self.device(device_id, "status")

    def device_command(self, device_id: str) -> str:
        return self.device(device_id, "command")

    def device_events(self, device_id: str) -> str:
        return self.device(device_id, "events")

    def signaling_offer(self, device_id: str) -> str:
        return self.device(device_id, "signaling/offer")

    def signaling_answer(self, device_id: str) -> str:
        return self.device(device_id, "signaling/answer")

    def signaling_ice(self, device_id: str) -> str:
        return self.device(device_id, "signaling/ice")

    def media_request(self, device_id: str) -> str:
        return self.device(device_id, "media/request")

    def media_snapshot(self, device_id: str) -> str:
        return self.device(device_id, "media/snapshot")

    def device_settings(self, device_id: str) -> str:
        """Retained per-device settings (conversation route, agent, listening mode, wake word)."""
        return self.device(device_id, "settings")

    def device_wildcard(self, leaf: str) -> str:
        """Subscription filter for one leaf of every device, e.g. `naila/devices/+/status`."""
        return f"{self.prefix}/devices/+/{leaf}"

    def parse_device_topic(self, topic: str) -> tuple[str, str] | None:
        """Split `{prefix}/devices/{id}/{leaf}` into (id, leaf); None if it is not one."""
        return self._split(topic, "devices")

    # conversation routing: AI server -> integration -> Home Assistant's agent -> AI server
    @property
    def conversation_request(self) -> str:
        return f"{self.prefix}/conversation/request"

    def conversation_response(self, request_id: str) -> str:
        return f"{self.prefix}/conversation/response/{request_id}"

    @property
    def conversation_response_wildcard(self) -> str:
        return f"{self.prefix}/conversation/response/+"

    @property
    def integration_status(self) -> str:
        """Retained status of the Home Assistant integration (it answers conversation requests)."""
        return f"{self.prefix}/integration/status"

    # alerts
    def alert(self, zone: str, alert_type: str) -> str:
        return f"{self.prefix}/alerts/{zone}/{alert_type}"

    @property
    def alerts_all(self) -> str:
        return f"{self.prefix}/alerts/all"

    @property
    def alerts_wildcard(self) -> str:
        return f"{self.prefix}/alerts/+/+"

    # uploads
    def upload(self, session_id: str, media: str) -> str:
        """`{prefix}/uploads/{session_id}/{media}`; media is 'image', 'audio' or 'video'."""
        return f"{self.prefix}/uploads/{session_id}/{media}"

    def upload_reply(self, session_id: str) -> str:
        return f"{self.prefix}/uploads/{session_id}/reply"

    @property
    def uploads_wildcard(self) -> str:
        return f"{self.prefix}/uploads/+/+"

    def parse_upload_topic(self, topic: str) -> tuple[str, str] | None:
        """Split `{prefix}/uploads/{session_id}/{media}` into (session_id, media); None if not one.

        `media` may be 'reply' (the server's answer on the same tree).
        """
        return self._split(topic, "uploads")

    def _split(self, topic: str, tree: str) -> tuple[str, str] | None:
        """`{prefix}/{tree}/{id}/{rest}` -> (id, rest); None if the topic is not in that tree."""
        head = f"{self.prefix}/{tree}/"
        if not topic.startswith(head):
            return None
        first, sep, rest = topic[len(head) :].partition("/")
        if not sep or not rest or not first:
            return None
        return first, rest

    def shared(self, group: str, topic_filter: str) -> str:
        """MQTT 5 shared subscription so several AI servers split the work."""
        return f"$share/{group}/{topic_filter}"
