"""The vision service: MQTT inputs (uploads, snapshots, media fetch), motion frames, alerts."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import numpy as np

from naila_protocol.mqtt import Incoming, MqttLink, MqttSettings, unique_client_id
from naila_protocol.topics import QOS_RELIABLE, Topics, is_valid_device_id

from .alerts import AlertDebouncer, alert_payload, alerts_in
from .analysis import Analysis, Analyzer
from .config import VisionConfig
from .devices import DeviceRegistry
from .live import Attachment, LiveFrame, LiveFrames
from .media_decode import MediaError, decode_base64, decode_image, encode_jpeg, sample_video
from .sources import visual_context_text
from .store import MediaStore
from .uploads import handle_upload, reject_busy
from .visual_context import build_visual_context, iso_utc

_LOGGER = logging.getLogger(__name__)

Transcriber = Callable[[np.ndarray], Awaitable[str]]
"""16 kHz mono float32 samples in [-1, 1] -> text (the server's STT engine)."""
Answerer = Callable[[str, str | None], Awaitable[str]]
"""(question, visual context text or None) -> answer (the server's LLM)."""

MAX_WAITING_JOBS = 32
"""Uploads/fetches queued beyond this are answered `busy` at once instead of held in memory."""
SERVER_REQUEST_PREFIX = "srv-"
"""request_id prefix of snapshot requests made by any AI server (others ignore the replies)."""


class SnapshotTimeoutError(TimeoutError):
    """The device did not answer a snapshot request in time."""


class VisionService:
    """One per AI server; several servers split uploads via a shared subscription group."""

    def __init__(
        self,
        config: VisionConfig,
        analyzer: Analyzer,
        *,
        store: MediaStore | None = None,
        transcriber: Transcriber | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.config = config
        self.analyzer = analyzer
        self.store = store
        self.transcriber = transcriber
        self.answerer = answerer
        self.topics = Topics(config.prefix)
        self.devices = DeviceRegistry(config.zones)
        self.debouncer = AlertDebouncer(config.alert_cooldown, config.alert_clear_after)
        self.live = LiveFrames(config.live_frame_max_age)
        self.attachments: dict[str, Attachment] = {}
        self.ready = asyncio.Event()
        self.stats: dict[str, int] = {"uploads": 0, "snapshots": 0, "frames": 0, "alerts": 0}
        self._link: MqttLink | None = None
        self._retention_started = False
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._resolved: deque[str] = deque(maxlen=256)
        self._snapshot_subs: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._work = asyncio.Semaphore(4)
        self._jobs = 0
        self._frame_busy: set[str] = set()
        self._frame_next: dict[str, bytes] = {}

    # ---------------------------------------------------------------- MQTT plumbing
    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        t, group = self.topics, self.config.share_group
        return [
            (t.device_wildcard("status"), QOS_RELIABLE),
            (t.shared(group, t.uploads_wildcard), QOS_RELIABLE),
            (t.shared(group, t.device_wildcard("media/snapshot")), QOS_RELIABLE),
            (t.shared(group, t.server_media_request), QOS_RELIABLE),
        ]

    def bind(self, link: MqttLink) -> None:
        """Use the process's MQTT link (MQTT 5, `subscriptions`, `on_message`, `on_link_state`)."""
        self._link = link

    def on_link_state(self, up: bool) -> None:
        """MqttLink state callback: `ready` while subscribed."""
        if up:
            _LOGGER.info("vision service subscribed (group %s)", self.config.share_group)
            self.ready.set()
        else:
            self.ready.clear()

    def start(self) -> None:
        """Start the background jobs (media retention) of a bound service."""
        if self.store is not None and not self._retention_started:
            self._retention_started = True
            self._spawn_background(self._retention_loop())

    async def run(
        self,
        hostname: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        reconnect_delay: float = 2.0,
    ) -> None:
        """Serve on a link of its own until cancelled (a vision-only process, tests)."""
        settings = MqttSettings(host=hostname, port=port, username=username, password=password)
        link = MqttLink(
            settings,
            client_id=unique_client_id(f"naila-vision-{self.config.server_id}"),
            on_message=self.on_message,
            on_state=self.on_link_state,
            subscriptions=self.subscriptions,
            mqtt5=True,
            backoff_initial=reconnect_delay / 4,
            backoff_max=reconnect_delay,
        )
        self.bind(link)
        self.start()
        try:
            await link.run()
        finally:
            self._link = None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def release(self) -> None:
        """After close(): free the detector models and the media store."""
        self.analyzer.close()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)

    def _spawn(self, coro: Awaitable[None]) -> None:
        """Run a job with at most 4 at a time (inference itself is serialised anyway)."""
        self._jobs += 1

        async def guarded() -> None:
            try:
                async with self._work:
                    await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("vision task failed")
            finally:
                self._jobs -= 1

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retention_loop(self, every: float = 3600.0) -> None:
        """Age-based retention also runs when nothing new is stored."""
        assert self.store is not None
        while True:
            try:
                await asyncio.to_thread(self.store.enforce_retention)
            except Exception:
                _LOGGER.exception("media retention failed")
            await asyncio.sleep(every)

    async def publish(self, topic: str, payload: dict[str, Any], qos: int = QOS_RELIABLE) -> bool:
        link = self._link
        body = json.dumps(payload, separators=(",", ":")).encode()
        if link is None or not await link.publish_and_wait(topic, body, qos=qos):
            _LOGGER.warning("not connected to MQTT: dropped message for %s", topic)
            return False
        return True

    def on_message(self, message: Incoming) -> None:
        """MqttLink message callback (arrival order, never blocks)."""
        topic, payload = message.topic, message.payload
        parsed = self.topics.parse_device_topic(topic)
        if parsed is not None:
            device_id, leaf = parsed
            if leaf == "status":
                self.devices.update_from_status(device_id, payload)
            elif leaf == "media/snapshot":
                self._on_device_media(device_id, payload)
            return
        if topic == self.topics.server_media_request:
            self._spawn(self._on_media_fetch(payload))
            return
        head = f"{self.config.prefix}/uploads/"
        if topic.startswith(head):
            session_id, _, media = topic[len(head) :].partition("/")
            if media == "reply":
                return
            if self._jobs >= MAX_WAITING_JOBS:
                self._spawn_background(reject_busy(self, session_id, payload))
            else:
                self._spawn(handle_upload(self, session_id, media, payload))

    # ---------------------------------------------------------------- snapshots
    def _on_device_media(self, device_id: str, payload: bytes) -> None:
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            _LOGGER.warning("[%s] malformed media/snapshot payload ignored", device_id)
            return
        if not isinstance(data, dict):
            return
        request_id = str(data.get("request_id") or "")
        future = self._pending.get(request_id)
        if future is not None:
            if not future.done():
                future.set_result(data)
            self._resolved.append(request_id)
            return
        if request_id in self._resolved or request_id.startswith(SERVER_REQUEST_PREFIX):
            return  # our duplicate, or another server's snapshot reply
        self._spawn(self._on_unsolicited_media(device_id, data))

    async def _on_unsolicited_media(self, device_id: str, data: dict[str, Any]) -> None:
        """A device pushed an image or clip by itself (e.g. a battery camera on motion)."""
        media_type = data.get("media_type", "image")
        try:
            raw = decode_base64(data.get("data"), self.config.max_upload_bytes)
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

    async def request_snapshot(self, device_id: str, wait: float | None = None) -> dict[str, Any]:
        """Ask a device for a snapshot (spec 11.5) and return its response payload."""
        if not is_valid_device_id(device_id):
            raise ValueError(f"invalid device id {device_id!r}")
        link = self._link
        if link is None or not link.connected.is_set():
            raise SnapshotTimeoutError("not connected to MQTT")
        request_id = f"{SERVER_REQUEST_PREFIX}{self.config.server_id}-{uuid.uuid4().hex[:12]}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        topic = self.topics.media_snapshot(device_id)
        self._snapshot_subs[device_id] = self._snapshot_subs.get(device_id, 0) + 1
        try:
            if self._snapshot_subs[device_id] == 1:
                await link.subscribe(topic, QOS_RELIABLE)
            request = {
                "request_type": "snapshot",
                "request_id": request_id,
                "params": {"format": "jpeg", "quality": 85},
            }
            await self.publish(self.topics.media_request(device_id), request)
            async with asyncio.timeout(wait or self.config.snapshot_timeout):
                return await future
        except TimeoutError:
            raise SnapshotTimeoutError(f"{device_id} sent no snapshot in time") from None
        finally:
            self._pending.pop(request_id, None)
            self._snapshot_subs[device_id] -= 1
            if self._snapshot_subs[device_id] == 0:
                del self._snapshot_subs[device_id]
                await link.unsubscribe(topic)

    async def snapshot_context(
        self, device_id: str, question: str | None, *, with_ocr: bool, wait: float | None = None
    ) -> dict[str, Any]:
        """Snapshot from a device, analysed, as a visual context (raises on timeout/bad data)."""
        data = await self.request_snapshot(device_id, wait)
        raw = decode_base64(data.get("data"), self.config.max_upload_bytes)
        image = await asyncio.to_thread(decode_image, raw, self.config.max_pixels)
        analysis = await self.analyzer.analyze(image.bgr, with_ocr=with_ocr)
        self.stats["snapshots"] += 1
        ctx = build_visual_context(
            analysis,
            source_type="mqtt_snapshot",
            media_format=image.format,
            timestamp=str(data.get("timestamp") or iso_utc()),
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

    # ---------------------------------------------------------------- motion frames + alerts
    async def video_frame_handler(self, device_id: str, request_id: str, jpeg: bytes) -> None:
        """Audio-socket hook for VIDEO frames: returns at once, analysis runs in the background.

        At most one frame per camera waits (the newest); frames never pile up in memory.
        """
        _LOGGER.debug("[%s] video frame %s (%d bytes)", device_id, request_id, len(jpeg))
        if self._claim_camera(device_id, jpeg):
            self._spawn_background(self._frames_guarded(device_id, jpeg))

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
        if device_id in self._frame_busy:
            self._frame_next[device_id] = jpeg
            return False
        self._frame_busy.add(device_id)
        return True

    async def handle_video_frame(self, device_id: str, jpeg: bytes) -> Analysis | None:
        """A camera frame (gateway VIDEO frame or device push): detect, alert, cache as live.

        While a frame of the same camera is being analysed, newer frames replace each other
        and only the newest is analysed next; those calls return None. Bad JPEGs are logged
        and return None.
        """
        if not self._claim_camera(device_id, jpeg):
            return None
        return await self._frames_until_idle(device_id, jpeg)

    async def _frames_until_idle(self, device_id: str, jpeg: bytes) -> Analysis | None:
        try:
            result = await self._analyze_frame(device_id, jpeg)
            while (newer := self._frame_next.pop(device_id, None)) is not None:
                result = await self._analyze_frame(device_id, newer)
            return result
        finally:
            self._frame_busy.discard(device_id)

    async def _analyze_frame(self, device_id: str, jpeg: bytes) -> Analysis | None:
        try:
            image = await asyncio.to_thread(decode_image, jpeg, self.config.max_pixels)
        except MediaError as err:
            _LOGGER.warning("[%s] video frame rejected: %s", device_id, err.message)
            return None
        analysis = await self.analyzer.analyze(image.bgr, with_ocr=self.config.ocr == "always")
        self.stats["frames"] += 1
        received = time.time()
        self.live.put(LiveFrame(device_id, jpeg, analysis, received))
        await self._raise_alerts(device_id, jpeg, image.format, analysis, received)
        return analysis

    async def _raise_alerts(
        self, device_id: str, data: bytes, fmt: str, analysis: Analysis, received: float
    ) -> None:
        present = alerts_in(analysis.objects, self.config.alert_classes)
        fire = self.debouncer.update(device_id, set(present))
        if not fire:
            return
        zone = self.devices.zone_of(device_id)
        media_id = None
        if self.store is not None and self.config.store_alerts:
            record = await asyncio.to_thread(
                self.store.add, "alert", data, media_type="image", fmt=fmt,
                device_id=device_id, zone=zone, event_type=",".join(fire),
                labels=analysis.labels, analysis=analysis.to_json(), created=received,
            )  # fmt: skip
            media_id = record.media_id
        for alert_type in fire:
            det = present[alert_type]
            count = sum(
                1
                for d in analysis.objects
                if (d.fallen if alert_type == "fall_detected" else d.label == det.label)
            )
            payload = alert_payload(
                alert_type, zone, det, source_device=device_id,
                timestamp=iso_utc(received), count=count, media_id=media_id,
            )  # fmt: skip
            self.stats["alerts"] += 1
            _LOGGER.info("[%s] alert %s in %s (%.2f)", device_id, alert_type, zone, det.confidence)
            await self.publish(self.topics.alert(zone, alert_type), payload)
            await self.publish(self.topics.alerts_all, payload)

    # ---------------------------------------------------------------- media by id
    async def _on_media_fetch(self, payload: bytes) -> None:
        try:
            data = json.loads(payload)
            request_id = str(data["request_id"])
            media_id = str(data["media_id"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            _LOGGER.warning("malformed media fetch request ignored")
            return
        if not is_valid_device_id(request_id):
            _LOGGER.warning("media fetch with unusable request_id ignored")
            return
        reply: dict[str, Any] = {"request_id": request_id, "media_id": media_id}
        record = await asyncio.to_thread(self.store.get, media_id) if self.store else None
        if record is None:
            reason = "no media store configured" if self.store is None else "unknown media_id"
            reply.update(status="error", error={"code": "not_found", "message": reason})
        else:
            assert self.store is not None
            raw = await asyncio.to_thread(self.store.read, record)
            reply.update(
                status="ok", media_type=record.media_type, format=record.format,
                timestamp=iso_utc(record.created), analysis=record.analysis,
                device_id=record.device_id, zone=record.zone, event_type=record.event_type,
                data=base64.b64encode(raw).decode(),
            )  # fmt: skip
        await self.publish(self.topics.server_media_response(request_id), reply)

    # ---------------------------------------------------------------- voice pipeline hook
    async def context_provider(self, device_id: str, text: str) -> str | None:
        """Pipeline hook: visual context text for a question, or None if it needs no vision."""
        return await visual_context_text(self, device_id, text)
