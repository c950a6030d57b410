"""Vision's MQTT inputs: what it subscribes to and which job each topic goes to."""

from __future__ import annotations

from naila_protocol.mqtt import Incoming
from naila_protocol.topics import QOS_RELIABLE, Topics

from .devices import DeviceRegistry
from .frames import CameraFrames
from .jobs import JobPool
from .media_fetch import MediaFetch
from .snapshots import Snapshots
from .uploads import Uploads

MAX_WAITING_JOBS = 32
"""Uploads/fetches queued beyond this are answered `busy` at once instead of held in memory."""


class VisionDispatch:
    """Topic -> handler, in arrival order, never blocking the link's reader."""

    def __init__(
        self,
        *,
        topics: Topics,
        share_group: str,
        jobs: JobPool,
        devices: DeviceRegistry,
        snapshots: Snapshots,
        frames: CameraFrames,
        uploads: Uploads,
        media: MediaFetch,
    ) -> None:
        self.topics = topics
        self.share_group = share_group
        self.jobs = jobs
        self.devices = devices
        self.snapshots = snapshots
        self.frames = frames
        self.uploads = uploads
        self.media = media

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        t, group = self.topics, self.share_group
        return [
            (t.device_wildcard("status"), QOS_RELIABLE),
            (t.shared(group, t.uploads_wildcard), QOS_RELIABLE),
            (t.shared(group, t.device_wildcard("media/snapshot")), QOS_RELIABLE),
            (t.shared(group, t.server_media_request), QOS_RELIABLE),
        ]

    def on_message(self, message: Incoming) -> None:
        """MqttLink message callback; topics of other readers on the link are ignored."""
        topic, payload = message.topic, message.payload
        parsed = self.topics.parse_device_topic(topic)
        if parsed is not None:
            device_id, leaf = parsed
            if leaf == "status":
                self.devices.update_from_status(device_id, payload)
            elif leaf == "media/snapshot":
                self.jobs.spawn_background(self._snapshot(device_id, payload))
            return
        if topic == self.topics.server_media_request:
            self.jobs.spawn(self.media.handle(payload))
            return
        upload = self.topics.parse_upload_topic(topic)
        if upload is None or upload[1] == "reply":
            return
        session_id, media = upload
        if self.jobs.queued >= MAX_WAITING_JOBS:
            self.jobs.spawn_background(self.uploads.reject_busy(session_id, payload))
        else:
            self.jobs.spawn(self.uploads.handle(session_id, media, payload))

    async def _snapshot(self, device_id: str, payload: bytes) -> None:
        """A snapshot answers a request of ours, or is one the device pushed by itself."""
        pushed = await self.snapshots.claim(device_id, payload)
        if pushed is not None:
            self.jobs.spawn(self.frames.pushed_media(device_id, pushed))
