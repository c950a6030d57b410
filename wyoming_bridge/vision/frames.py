"""Camera frames (gateway VIDEO frames, device pushes): analyse the newest, cache live, alert."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from naila_protocol.topics import is_valid_device_id

from .alerts import AlertPublisher
from .analysis import Analysis, Analyzer
from .config import VisionConfig
from .jobs import JobPool
from .live import LiveFrame, LiveFrames
from .media_decode import MediaError, decode_base64, decode_image, encode_jpeg, sample_video
from .visual_context import wants_ocr

_LOGGER = logging.getLogger(__name__)


class CameraFrames:
    """At most one frame per camera waits (the newest); frames never pile up in memory."""

    def __init__(
        self,
        *,
        config: VisionConfig,
        analyzer: Analyzer,
        live: LiveFrames,
        alerts: AlertPublisher,
        jobs: JobPool,
        stats: dict[str, int],
    ) -> None:
        self.config = config
        self.analyzer = analyzer
        self.live = live
        self.alerts = alerts
        self.jobs = jobs
        self.stats = stats
        self._busy: set[str] = set()
        self._next: dict[str, bytes] = {}

    def is_busy(self, device_id: str) -> bool:
        """A frame of this camera is being analysed (or one waits)."""
        return device_id in self._busy

    async def video_frame_handler(self, device_id: str, request_id: str, jpeg: bytes) -> None:
        """Audio-socket hook for VIDEO frames: returns at once, analysis runs in the background."""
        _LOGGER.debug("[%s] video frame %s (%d bytes)", device_id, request_id, len(jpeg))
        if self._claim_camera(device_id, jpeg):
            self.jobs.spawn_background(self._frames_guarded(device_id, jpeg))

    async def handle_video_frame(self, device_id: str, jpeg: bytes) -> Analysis | None:
        """A camera frame (gateway VIDEO frame or device push): detect, alert, cache as live.

        While a frame of the same camera is being analysed, newer frames replace each other
        and only the newest is analysed next; those calls return None. Bad JPEGs are logged
        and return None.
        """
        if not self._claim_camera(device_id, jpeg):
            return None
        return await self._frames_until_idle(device_id, jpeg)

    async def pushed_media(self, device_id: str, data: dict[str, Any]) -> None:
        """A device pushed an image or clip by itself (e.g. a battery camera on motion)."""
        media_type = data.get("media_type", "image")
        try:
            raw = await asyncio.to_thread(
                decode_base64, data.get("data"), self.config.max_upload_bytes
            )
            if media_type == "image":
                self.stats["snapshots"] += 1
                await self.handle_video_frame(device_id, raw)
            elif media_type == "video":
                frames = await asyncio.to_thread(
                    sample_video, raw, self.config.video_sample_frames,
                    self.config.max_pixels, self.config.max_clip_seconds,
                )  # fmt: skip
                for _t, bgr in frames:
                    await self.handle_video_frame(
                        device_id, await asyncio.to_thread(encode_jpeg, bgr)
                    )
            else:
                _LOGGER.info("[%s] unsolicited %s media ignored", device_id, media_type)
        except MediaError as err:
            _LOGGER.warning("[%s] unsolicited media rejected: %s", device_id, err.message)

    async def _frames_guarded(self, device_id: str, jpeg: bytes) -> None:
        try:
            await self._frames_until_idle(device_id, jpeg)
        except Exception:
            _LOGGER.exception("[%s] video frame analysis failed", device_id)

    def _claim_camera(self, device_id: str, jpeg: bytes) -> bool:
        """True if the caller should analyse now; else the frame waits as the camera's newest."""
        if not is_valid_device_id(device_id):
            _LOGGER.warning("video frame with invalid device id dropped")
            return False
        if device_id in self._busy:
            self._next[device_id] = jpeg
            return False
        self._busy.add(device_id)
        return True

    async def _frames_until_idle(self, device_id: str, jpeg: bytes) -> Analysis | None:
        try:
            result = await self._analyze_frame(device_id, jpeg)
            while (newer := self._next.pop(device_id, None)) is not None:
                result = await self._analyze_frame(device_id, newer)
            return result
        finally:
            self._busy.discard(device_id)

    async def _analyze_frame(self, device_id: str, jpeg: bytes) -> Analysis | None:
        try:
            image = await asyncio.to_thread(decode_image, jpeg, self.config.max_pixels)
        except MediaError as err:
            _LOGGER.warning("[%s] video frame rejected: %s", device_id, err.message)
            return None
        with_ocr = wants_ocr(self.config.ocr, None)
        analysis = await self.analyzer.analyze(image.bgr, with_ocr=with_ocr)
        self.stats["frames"] += 1
        received = time.time()
        self.live.put(LiveFrame(device_id, jpeg, analysis, received))
        await self.alerts.raise_alerts(device_id, jpeg, image.format, analysis, received)
        return analysis
