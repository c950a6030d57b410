"""Stored media by id: `server/media/request` answered on `server/media/response/{request_id}`."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

from naila_protocol.payloads import utc_timestamp
from naila_protocol.topics import Topics, is_valid_device_id

from .link import Publish
from .store import MediaRecord, MediaStore

_LOGGER = logging.getLogger(__name__)


class MediaFetch:
    """Answers fetches of stored media (alert images, uploads) from any client."""

    def __init__(self, store: MediaStore | None, topics: Topics, publish: Publish) -> None:
        self.store = store
        self.topics = topics
        self.publish = publish

    async def handle(self, payload: bytes) -> None:
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
        store = self.store
        record = await asyncio.to_thread(store.get, media_id) if store else None
        if store is None or record is None:
            reason = "no media store configured" if store is None else "unknown media_id"
            reply.update(status="error", error={"code": "not_found", "message": reason})
        else:
            encoded = await asyncio.to_thread(_read_base64, store, record)
            reply.update(
                status="ok", media_type=record.media_type, format=record.format,
                timestamp=utc_timestamp(record.created), analysis=record.analysis,
                device_id=record.device_id, zone=record.zone, event_type=record.event_type,
                data=encoded,
            )  # fmt: skip
        await self.publish(self.topics.server_media_response(request_id), reply)


def _read_base64(store: MediaStore, record: MediaRecord) -> str:
    """The stored file as base64 (megabytes: run in a thread)."""
    return base64.b64encode(store.read(record)).decode()
