"""Which media answers a spoken question (docs/vision.md), as the pipeline's context hook."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from naila_protocol.payloads import utc_timestamp

from .analysis import Analyzer
from .config import VisionConfig
from .devices import DeviceRegistry
from .history import HistoryQuery, is_historical, parse_history_query
from .live import Attachments, LiveFrames
from .media_decode import MediaError, decode_image
from .snapshots import Snapshots
from .store import MediaRecord, MediaStore
from .visual_context import (
    build_visual_context,
    context_for_llm,
    is_visual_query,
    wants_ocr,
)

_LOGGER = logging.getLogger(__name__)
VOICE_SNAPSHOT_TIMEOUT = 3.0
"""A spoken question waits at most this long for a device snapshot."""
NO_VISION = (
    "No camera view is available for this question ({reason}). "
    "Tell the user you cannot see it right now."
)


class VisualContextSources:
    """Attached media -> history -> live frame -> snapshot -> same-zone camera -> none."""

    def __init__(
        self,
        *,
        config: VisionConfig,
        analyzer: Analyzer,
        devices: DeviceRegistry,
        live: LiveFrames,
        attachments: Attachments,
        snapshots: Snapshots,
        store: MediaStore | None,
    ) -> None:
        self.config = config
        self.analyzer = analyzer
        self.devices = devices
        self.live = live
        self.attachments = attachments
        self.snapshots = snapshots
        self.store = store

    async def context_text(self, device_id: str, text: str) -> str | None:
        """Visual context text for a question, or None if it needs no vision."""
        visual, historical = is_visual_query(text), is_historical(text)
        if not visual and not historical:
            return None  # most questions: no cost at all
        known = self.devices.names()
        if self.store is not None:
            known |= await asyncio.to_thread(self.store.sources)
        if not visual and not _names_source(text, known):
            return None

        attached = self.attachments.fresh(device_id)
        if attached is not None:
            return context_for_llm([attached.context], "The user attached this image:")

        if historical:
            query = parse_history_query(text, datetime.now().astimezone(), known)
            if query is not None and (
                query.start
                or query.sources
                or query.event_type
                or query.kind
                or query.unknown_camera
            ):
                return await self._history_text(query, text)

        live = await self._live_context(device_id, text)
        if live is not None:
            return context_for_llm([live])
        if self.devices.has_camera(device_id):
            ctx = await self._snapshot(device_id, text, device_id)
            if ctx is not None:
                return context_for_llm([ctx])

        zone = self.devices.zone_of(device_id)
        note = "From the {camera} camera in the {zone}:"
        for camera in self.devices.cameras_in_zone(zone, exclude=device_id):
            live = await self._live_context(camera, text)
            if live is not None:
                return context_for_llm([live], note.format(camera=camera, zone=zone))
        for camera in self.devices.cameras_in_zone(zone, exclude=device_id):
            ctx = await self._snapshot(camera, text, device_id)
            if ctx is not None:
                return context_for_llm([ctx], note.format(camera=camera, zone=zone))
        return NO_VISION.format(reason=f"no camera in the {zone}")

    async def _snapshot(self, camera: str, text: str, asker: str) -> dict[str, Any] | None:
        """A fresh snapshot's context, or None (logged) when the camera sends none in time."""
        try:
            return await self.snapshots.context(
                camera, text, with_ocr=wants_ocr(self.config.ocr, text),
                wait=min(VOICE_SNAPSHOT_TIMEOUT, self.config.snapshot_timeout),
            )  # fmt: skip
        except (TimeoutError, MediaError) as err:
            if camera == asker:
                _LOGGER.info("[%s] own snapshot unavailable: %s", asker, err)
            else:
                _LOGGER.info("[%s] snapshot from %s unavailable: %s", asker, camera, err)
            return None

    async def _live_context(self, device_id: str, text: str) -> dict[str, Any] | None:
        frame = self.live.fresh(device_id)
        if frame is None:
            return None
        analysis = frame.analysis
        if wants_ocr(self.config.ocr, text):
            image = await asyncio.to_thread(decode_image, frame.jpeg, self.config.max_pixels)
            analysis = await self.analyzer.analyze(image.bgr, with_ocr=True)
        return build_visual_context(
            analysis,
            source_type="webrtc_stream",
            media_format="jpeg",
            timestamp=utc_timestamp(frame.received),
            user_context=text,
            device_id=device_id,
        )

    async def _history_text(self, query: HistoryQuery, text: str) -> str:
        store = self.store
        if store is None:
            return NO_VISION.format(reason="no media history is kept on this server")
        if query.unknown_camera:
            return (
                f"No stored camera media matches this question: no camera called "
                f"'{query.unknown_camera}' is known. Tell the user."
            )
        sources = [self.devices.resolve(s) for s in query.sources]
        records: list[MediaRecord] = await asyncio.to_thread(
            lambda: store.query(
                start=query.start,
                end=query.end,
                sources=sources or None,
                event_type=query.event_type,
                kind=query.kind,
                limit=3,
            )
        )
        if not records:
            return (
                "No stored camera media matches this question (camera, time or event). "
                "Tell the user nothing was recorded then."
            )
        contexts = [_record_context(r, text) for r in records]
        note = f"Stored camera history, newest first ({len(records)} items):"
        return context_for_llm(contexts, note)


def _names_source(text: str, known: set[str]) -> bool:
    spoken = " " + "".join(c if c.isalnum() else " " for c in text.lower()) + " "
    return any(f" {' '.join(k.replace('_', ' ').split()).lower()} " in spoken for k in known)


def _record_context(record: MediaRecord, text: str) -> dict[str, Any]:
    analysis = dict(record.analysis)
    return {
        "source": {
            "type": "history",
            "device_id": record.device_id,
            "session_id": record.session_id,
            "media_id": record.media_id,
            "event_type": record.event_type,
            "zone": record.zone,
        },
        "media": {
            "type": record.media_type,
            "format": record.format,
            "timestamp": utc_timestamp(record.created),
        },
        "analysis": analysis
        if "description" in analysis
        else {"description": "stored item", **analysis},
        "user_context": text,
    }
