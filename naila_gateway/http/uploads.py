"""Photo uploads from the page: bridged to the MQTT upload of docs/mqtt.md, answer spoken."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from naila_gateway.http.errors import ApiError, read_body
from naila_gateway.http.whip import device_id_of
from naila_protocol.topics import QOS_RELIABLE

if TYPE_CHECKING:
    from naila_gateway.gateway import Gateway

_LOGGER = logging.getLogger(__name__)
IMAGE_FORMATS = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}
MAX_QUESTION_CHARS = 500


class UploadBridge:
    """POST /api/devices/{id}/upload (image body, ?question=) -> MQTT upload -> JSON answer."""

    def __init__(self, gateway: Gateway, max_bytes: int, timeout: float) -> None:
        self.gateway = gateway
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        gateway.on_upload_reply = self._on_reply

    def _on_reply(self, session_id: str, payload: bytes) -> None:
        future = self._waiting.get(session_id)
        if future is None or future.done():
            return
        try:
            reply = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            _LOGGER.warning("upload reply for %s is not JSON", session_id)
            return
        if isinstance(reply, dict):
            future.set_result(reply)

    async def upload(self, request: web.Request) -> web.Response:
        device_id = device_id_of(request)
        fmt = IMAGE_FORMATS.get(request.content_type)
        if fmt is None:
            raise ApiError(415, "unsupported_media_type", f"send one of {sorted(IMAGE_FORMATS)}")
        question = request.query.get("question", "").strip()[:MAX_QUESTION_CHARS] or None
        image = await read_body(request, self.max_bytes)
        if not image:
            raise ApiError(400, "empty_upload", "the upload has no image")
        upload_id = f"web_{uuid.uuid4().hex[:12]}"
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        data = await asyncio.to_thread(base64.b64encode, image)
        message = {
            "session_id": upload_id,
            "media_type": "image",
            "format": fmt,
            "context": question,
            "device_id": device_id,
            "request_id": request_id,
            "data": data.decode("ascii"),
        }
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[upload_id] = future
        try:
            topic = self.gateway.topics.upload(upload_id, "image")
            body = await asyncio.to_thread(lambda: json.dumps(message).encode())
            if not await self.gateway.mqtt.publish_and_wait(topic, body, qos=QOS_RELIABLE):
                raise ApiError(503, "mqtt_unavailable", "the broker is not connected")
            try:
                reply = await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                raise ApiError(504, "upload_timeout", "the AI server did not answer") from None
        finally:
            self._waiting.pop(upload_id, None)
        answer = str(reply.get("answer") or "")
        if reply.get("status") != "ok":
            error = reply.get("error")
            details: dict[str, Any] = error if isinstance(error, dict) else {}
            code = str(details.get("code") or "upload_failed")
            raise ApiError(422, code, str(details.get("message") or "the upload failed"))
        spoken = False
        session = self.gateway.sessions.get(device_id)
        if answer and session is not None:
            await session.voice.announce(answer, request_id)
            spoken = True
        _LOGGER.info("[%s] upload %s answered (spoken: %s)", device_id, upload_id, spoken)
        return web.json_response({"request_id": request_id, "answer": answer, "spoken": spoken})
