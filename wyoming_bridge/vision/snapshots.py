"""Snapshot requests to devices (`media/request` -> `media/snapshot`) and their visual context."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from typing import Any

from naila_protocol.payloads import utc_timestamp
from naila_protocol.topics import QOS_RELIABLE, Topics, is_valid_device_id

from .analysis import Analyzer
from .config import VisionConfig
from .devices import DeviceRegistry
from .link import VisionLink
from .media_decode import decode_base64, decode_image
from .store import MediaStore
from .visual_context import build_visual_context

_LOGGER = logging.getLogger(__name__)

SERVER_REQUEST_PREFIX = "srv-"
"""request_id prefix of snapshot requests made by any AI server (others ignore the replies)."""


class SnapshotTimeoutError(TimeoutError):
    """The device did not answer a snapshot request in time."""


class Snapshots:
    """Asks devices for a snapshot and matches their replies to the waiting requests."""

    def __init__(
        self,
        *,
        config: VisionConfig,
        topics: Topics,
        link: VisionLink,
        analyzer: Analyzer,
        devices: DeviceRegistry,
        store: MediaStore | None,
        stats: dict[str, int],
    ) -> None:
        self.config = config
        self.topics = topics
        self.link = link
        self.analyzer = analyzer
        self.devices = devices
        self.store = store
        self.stats = stats
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._resolved: deque[str] = deque(maxlen=256)
        self._subscribed: dict[str, int] = {}

    @property
    def waiting(self) -> int:
        """Snapshot requests still waiting for their device."""
        return len(self._pending)

    async def claim(self, device_id: str, payload: bytes) -> dict[str, Any] | None:
        """A `media/snapshot` message: resolve our request, or return it if the device pushed it.

        Malformed payloads, our duplicates and other servers' replies return None. The JSON
        (a base64 image: megabytes) is decoded in a thread, off the loop.
        """
        data = await asyncio.to_thread(_json_object, payload)
        if data is None:
            _LOGGER.warning("[%s] malformed media/snapshot payload ignored", device_id)
            return None
        request_id = str(data.get("request_id") or "")
        future = self._pending.get(request_id)
        if future is not None:
            if not future.done():
                future.set_result(data)
            self._resolved.append(request_id)
            return None
        if request_id in self._resolved or request_id.startswith(SERVER_REQUEST_PREFIX):
            return None  # our duplicate, or another server's snapshot reply
        return data

    async def request(self, device_id: str, wait: float | None = None) -> dict[str, Any]:
        """Ask a device for a snapshot (docs/mqtt.md) and return its response payload."""
        if not is_valid_device_id(device_id):
            raise ValueError(f"invalid device id {device_id!r}")
        link = self.link.link
        if link is None or not link.connected.is_set():
            raise SnapshotTimeoutError("not connected to MQTT")
        request_id = f"{SERVER_REQUEST_PREFIX}{self.config.server_id}-{uuid.uuid4().hex[:12]}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        topic = self.topics.media_snapshot(device_id)
        self._subscribed[device_id] = self._subscribed.get(device_id, 0) + 1
        try:
            if self._subscribed[device_id] == 1:
                await link.subscribe(topic, QOS_RELIABLE)
            request = {
                "request_type": "snapshot",
                "request_id": request_id,
                "params": {"format": "jpeg", "quality": 85},
            }
            await self.link.publish(self.topics.media_request(device_id), request)
            async with asyncio.timeout(wait or self.config.snapshot_timeout):
                return await future
        except TimeoutError:
            raise SnapshotTimeoutError(f"{device_id} sent no snapshot in time") from None
        finally:
            self._pending.pop(request_id, None)
            self._subscribed[device_id] -= 1
            if self._subscribed[device_id] == 0:
                del self._subscribed[device_id]
                await link.unsubscribe(topic)

    async def context(
        self, device_id: str, question: str | None, *, with_ocr: bool, wait: float | None = None
    ) -> dict[str, Any]:
        """Snapshot from a device, analysed, as a visual context (raises on timeout/bad data)."""
        data = await self.request(device_id, wait)
        raw = await asyncio.to_thread(decode_base64, data.get("data"), self.config.max_upload_bytes)
        image = await asyncio.to_thread(decode_image, raw, self.config.max_pixels)
        analysis = await self.analyzer.analyze(image.bgr, with_ocr=with_ocr)
        self.stats["snapshots"] += 1
        ctx = build_visual_context(
            analysis,
            source_type="mqtt_snapshot",
            media_format=image.format,
            timestamp=str(data.get("timestamp") or utc_timestamp()),
            user_context=question,
            device_id=device_id,
        )
        if self.store is not None and self.config.store_conversation:
            record = await asyncio.to_thread(
                self.store.add, "conversation", raw, media_type="image", fmt=image.format,
                device_id=device_id, zone=self.devices.zone_of(device_id),
                labels=analysis.labels, analysis=ctx["analysis"],
            )  # fmt: skip
            ctx["source"]["media_id"] = record.media_id
        return ctx


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
