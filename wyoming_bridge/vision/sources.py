"""Media source selection for a spoken question (spec 11.10), as the pipeline's context hook."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .history import HistoryQuery, is_historical, parse_history_query
from .media_decode import MediaError, decode_image
from .store import MediaRecord
from .visual_context import (
    build_visual_context,
    context_for_llm,
    is_visual_query,
    iso_utc,
    query_groups,
)

if TYPE_CHECKING:
    from .service import VisionService

_LOGGER = logging.getLogger(__name__)
VOICE_SNAPSHOT_TIMEOUT = 3.0
"""A spoken question waits at most this long for a device snapshot."""
NO_VISION = (
    "No camera view is available for this question ({reason}). "
    "Tell the user you cannot see it right now."
)


def _wants_ocr(svc: VisionService, text: str) -> bool:
    return svc.config.ocr == "always" or (
        svc.config.ocr == "query" and "analysis" in query_groups(text)
    )


async def visual_context_text(svc: VisionService, device_id: str, text: str) -> str | None:
    """Attached media -> history -> live frame -> snapshot -> same-zone camera -> none."""
    visual, historical = is_visual_query(text), is_historical(text)
    if not visual and not historical:
        return None  # most questions: no cost at all
    known = svc.devices.names()
    if svc.store is not None:
        known |= await asyncio.to_thread(svc.store.sources)
    if not visual and not _names_source(text, known):
        return None

    attached = svc.attachments.get(device_id)
    if attached and time.time() - attached.received <= svc.config.attachment_max_age:
        return context_for_llm([attached.context], "The user attached this image:")

    if historical:
        query = parse_history_query(text, datetime.now().astimezone(), known)
        if query is not None and (
            query.start or query.sources or query.event_type or query.kind or query.unknown_camera
        ):
            return await _history_text(svc, query, text)

    live = await _live_context(svc, device_id, text)
    if live is not None:
        return context_for_llm([live])
    if svc.devices.has_camera(device_id):
        try:
            ctx = await svc.snapshot_context(
                device_id, text, with_ocr=_wants_ocr(svc, text),
                wait=min(VOICE_SNAPSHOT_TIMEOUT, svc.config.snapshot_timeout),
            )  # fmt: skip
            return context_for_llm([ctx])
        except (TimeoutError, MediaError) as err:
            _LOGGER.info("[%s] own snapshot unavailable: %s", device_id, err)

    zone = svc.devices.zone_of(device_id)
    for camera in svc.devices.cameras_in_zone(zone, exclude=device_id):
        live = await _live_context(svc, camera, text)
        if live is not None:
            return context_for_llm([live], f"From the {camera} camera in the {zone}:")
    for camera in svc.devices.cameras_in_zone(zone, exclude=device_id):
        try:
            ctx = await svc.snapshot_context(
                camera, text, with_ocr=_wants_ocr(svc, text),
                wait=min(VOICE_SNAPSHOT_TIMEOUT, svc.config.snapshot_timeout),
            )  # fmt: skip
            return context_for_llm([ctx], f"From the {camera} camera in the {zone}:")
        except (TimeoutError, MediaError) as err:
            _LOGGER.info("[%s] snapshot from %s unavailable: %s", device_id, camera, err)
    return NO_VISION.format(reason=f"no camera in the {zone}")


def _names_source(text: str, known: set[str]) -> bool:
    spoken = " " + "".join(c if c.isalnum() else " " for c in text.lower()) + " "
    return any(f" {' '.join(k.replace('_', ' ').split()).lower()} " in spoken for k in known)


async def _live_context(svc: VisionService, device_id: str, text: str) -> dict[str, Any] | None:
    frame = svc.live.fresh(device_id)
    if frame is None:
        return None
    analysis = frame.analysis
    if _wants_ocr(svc, text):
        image = await asyncio.to_thread(decode_image, frame.jpeg, svc.config.max_pixels)
        analysis = await svc.analyzer.analyze(image.bgr, with_ocr=True)
    return build_visual_context(
        analysis,
        source_type="webrtc_stream",
        media_format="jpeg",
        timestamp=iso_utc(frame.received),
        user_context=text,
        device_id=device_id,
    )


async def _history_text(svc: VisionService, query: HistoryQuery, text: str) -> str:
    if svc.store is None:
        return NO_VISION.format(reason="no media history is kept on this server")
    if query.unknown_camera:
        return (
            f"No stored camera media matches this question: no camera called "
            f"'{query.unknown_camera}' is known. Tell the user."
        )
    sources = [svc.devices.resolve(s) for s in query.sources]
    store = svc.store
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
    return context_for_llm(contexts, f"Stored camera history, newest first ({len(records)} items):")


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
            "timestamp": iso_utc(record.created),
        },
        "analysis": analysis
        if "description" in analysis
        else {"description": "stored item", **analysis},
        "user_context": text,
    }
