"""Uploads on `naila/uploads/{session_id}/{media}` (docs/mqtt.md), answered on `.../reply`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from naila_protocol.payloads import utc_timestamp
from naila_protocol.topics import Topics, is_valid_device_id

from .analysis import Analysis, Analyzer
from .config import VisionConfig
from .link import Publish
from .live import Attachments
from .media_decode import (
    MediaError,
    decode_audio,
    decode_base64,
    decode_image,
    sample_video,
)
from .store import MediaStore
from .visual_context import build_visual_context, context_for_llm, wants_ocr

_LOGGER = logging.getLogger(__name__)
MEDIA_KINDS = ("image", "audio", "video", "text")
_JSON_OVERHEAD = 64 * 1024
_REQUEST_ID = re.compile(rb'"request_id"\s*:\s*"([A-Za-z0-9_.:\-]{1,64})"')

Transcriber = Callable[[np.ndarray], Awaitable[str]]
"""16 kHz mono float32 samples in [-1, 1] -> text (the server's STT engine)."""
Answerer = Callable[[str, str | None], Awaitable[str]]
"""(question, visual context text or None) -> answer (the server's LLM)."""
ContextText = Callable[[str, str], Awaitable[str | None]]
"""(device id, question) -> visual context text or None (the source selection)."""


class Uploads:
    """Validate, analyse, maybe store, answer. Every failure becomes an error reply."""

    def __init__(
        self,
        *,
        config: VisionConfig,
        analyzer: Analyzer,
        topics: Topics,
        publish: Publish,
        attachments: Attachments,
        context_text: ContextText,
        stats: dict[str, int],
        store: MediaStore | None = None,
        transcriber: Transcriber | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.config = config
        self.analyzer = analyzer
        self.topics = topics
        self.publish = publish
        self.attachments = attachments
        self.context_text = context_text
        self.stats = stats
        self.store = store
        self.transcriber = transcriber
        self.answerer = answerer

    async def handle(self, session_id: str, media: str, payload: bytes) -> None:
        if not is_valid_device_id(session_id):
            _LOGGER.warning("upload with unusable session id ignored")
            return
        request_id = f"up_{uuid.uuid4().hex[:12]}"
        reply: dict[str, Any] = {"session_id": session_id, "request_id": request_id}
        try:
            data = await asyncio.to_thread(_parse, self.config.max_upload_bytes, media, payload)
            request_id = str(data.get("request_id") or request_id)
            reply["request_id"] = request_id
            self.stats["uploads"] += 1
            reply.update(await self._process(session_id, media, data))
            reply["status"] = "ok"
        except MediaError as err:
            _LOGGER.info("[%s] upload %s rejected: %s", session_id, request_id, err.message)
            reply.update(
                status="error", answer="", error={"code": err.code, "message": err.message}
            )
        except Exception:
            _LOGGER.exception("[%s] upload %s failed", session_id, request_id)
            reply.update(
                status="error",
                answer="",
                error={"code": "internal", "message": "processing failed"},
            )
        await self.publish(self.topics.upload_reply(session_id), reply)

    async def reject_busy(self, session_id: str, payload: bytes) -> None:
        """Too much queued work: answer `busy` without parsing the (maybe large) payload."""
        if not is_valid_device_id(session_id):
            return
        found = _REQUEST_ID.search(payload[:4096])
        reply = {
            "session_id": session_id,
            "request_id": found.group(1).decode() if found else None,
            "status": "error",
            "answer": "",
            "error": {"code": "busy", "message": "server busy, try again"},
        }
        _LOGGER.warning("[%s] upload refused: too much queued work", session_id)
        await self.publish(self.topics.upload_reply(session_id), reply)

    async def _process(self, session_id: str, media: str, data: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        question = data.get("context") if isinstance(data.get("context"), str) else None
        device_id = data.get("device_id") if isinstance(data.get("device_id"), str) else None
        out: dict[str, Any] = {}
        if media == "text":
            if not question:
                raise MediaError("missing_context", "text upload without 'context'")
            context_text = await self.context_text(device_id or session_id, question)
            out["answer"] = await self._answer(question, context_text, None)
            return out

        raw = await asyncio.to_thread(decode_base64, data.get("data"), cfg.max_upload_bytes)
        fmt = str(data.get("format") or "")
        ctx: dict[str, Any] | None = None
        if media == "image":
            image = await asyncio.to_thread(decode_image, raw, cfg.max_pixels)
            analysis = await self.analyzer.analyze(image.bgr, with_ocr=wants_ocr(cfg.ocr, question))
            fmt = image.format
            ctx = _context(
                analysis, fmt, session_id=session_id, device_id=device_id, question=question
            )
        elif media == "video":
            frames = await asyncio.to_thread(
                sample_video, raw, cfg.video_sample_frames, cfg.max_pixels, cfg.max_clip_seconds
            )
            ctx = await self._video_context(
                frames, fmt or "mp4", session_id=session_id, device_id=device_id, question=question
            )
        else:  # audio
            if self.transcriber is None:
                raise MediaError("stt_unavailable", "this server has no speech-to-text engine")
            pcm = await asyncio.to_thread(decode_audio, raw, cfg.max_clip_seconds)
            transcript = await self.transcriber(pcm.astype("float32") / 32768.0)
            out["transcript"] = transcript
            question = question or transcript or None

        if ctx is not None:
            out["visual_context"] = ctx
            self.attachments.remember({k for k in (session_id, device_id) if k}, ctx)
        if self.store is not None and cfg.store_uploads:
            record = await asyncio.to_thread(
                self.store.add, "upload", raw, media_type=media, fmt=fmt or "bin",
                device_id=device_id, session_id=session_id,
                labels=sorted({o["label"] for o in ctx["analysis"]["objects"]}) if ctx else [],
                analysis=(ctx or {}).get("analysis", {"transcript": out.get("transcript")}),
            )  # fmt: skip
            out["media_id"] = record.media_id
        if media == "audio" and (not question or self.answerer is None):
            out["answer"] = ""  # the transcript is the result when there is nothing to answer with
            return out
        context_text = context_for_llm([ctx]) if ctx is not None else None
        if media == "audio" and question:
            context_text = await self.context_text(device_id or session_id, question)
        out["answer"] = await self._answer(question, context_text, ctx)
        return out

    async def _video_context(
        self,
        frames: list[tuple[float, Any]],
        fmt: str,
        *,
        session_id: str,
        device_id: str | None,
        question: str | None,
    ) -> dict[str, Any]:
        """Analyse sampled frames; the busiest one is the context, the rest a per-second summary."""
        analyses = [(t, await self.analyzer.analyze(bgr)) for t, bgr in frames]
        best_t, best = max(analyses, key=lambda item: len(item[1].objects))
        ctx = _context(
            best,
            fmt,
            session_id=session_id,
            device_id=device_id,
            question=question,
            media_type="video",
        )
        ctx["media"]["frame_time_s"] = round(best_t, 2)
        ctx["analysis"]["frames"] = [
            {"time_s": round(t, 2), "description": a.description(), "labels": a.labels}
            for t, a in analyses
        ]
        return ctx

    async def _answer(
        self, question: str | None, context_text: str | None, ctx: dict[str, Any] | None
    ) -> str:
        if question and self.answerer is not None:
            return await self.answerer(question, context_text)
        if ctx is not None:
            return f"I see {ctx['analysis']['description']}."
        raise MediaError("llm_unavailable", "this server has no language model to answer with")


def _parse(max_bytes: int, media: str, payload: bytes) -> dict[str, Any]:
    """Kind, size and JSON checks (in a thread: payloads may be megabytes)."""
    if media not in MEDIA_KINDS:
        raise MediaError("unsupported_media", f"unknown upload kind {media!r}")
    if len(payload) > max_bytes * 4 // 3 + _JSON_OVERHEAD:
        raise MediaError("too_large", f"upload exceeds {max_bytes} bytes")
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise MediaError("bad_json", "upload is not a JSON object") from err
    if not isinstance(data, dict):
        raise MediaError("bad_json", "upload is not a JSON object")
    return data


def _context(
    analysis: Analysis,
    fmt: str,
    *,
    session_id: str,
    device_id: str | None,
    question: str | None,
    media_type: str = "image",
) -> dict[str, Any]:
    return build_visual_context(
        analysis,
        source_type="mqtt_upload",
        media_format=fmt,
        timestamp=utc_timestamp(),
        user_context=question,
        device_id=device_id,
        session_id=session_id,
        media_type=media_type,
    )
