"""Uploads on `naila/uploads/{session_id}/{media}` (spec 11.9), answered on `.../reply`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from naila_protocol.topics import is_valid_device_id

from .analysis import Analysis
from .live import Attachment
from .media_decode import (
    MediaError,
    decode_audio,
    decode_base64,
    decode_image,
    sample_video,
)
from .visual_context import build_visual_context, context_for_llm, iso_utc, query_groups

if TYPE_CHECKING:
    from .service import VisionService

_LOGGER = logging.getLogger(__name__)
MEDIA_KINDS = ("image", "audio", "video", "text")
_JSON_OVERHEAD = 64 * 1024
_REQUEST_ID = re.compile(rb'"request_id"\s*:\s*"([A-Za-z0-9_.:\-]{1,64})"')


def wants_ocr(mode: str, question: str | None) -> bool:
    """OCR is slow (~1-4 s): 'query' runs it only when the question asks to read something."""
    return mode == "always" or (
        mode == "query" and bool(question) and "analysis" in query_groups(question or "")
    )


async def handle_upload(svc: VisionService, session_id: str, media: str, payload: bytes) -> None:
    """Validate, analyse, maybe store, answer. Every failure becomes an error reply."""
    if not is_valid_device_id(session_id):
        _LOGGER.warning("upload with unusable session id ignored")
        return
    request_id = f"up_{uuid.uuid4().hex[:12]}"
    reply: dict[str, Any] = {"session_id": session_id, "request_id": request_id}
    try:
        data = await asyncio.to_thread(_parse, svc.config.max_upload_bytes, media, payload)
        request_id = str(data.get("request_id") or request_id)
        reply["request_id"] = request_id
        svc.stats["uploads"] += 1
        reply.update(await _process(svc, session_id, media, data))
        reply["status"] = "ok"
    except MediaError as err:
        _LOGGER.info("[%s] upload %s rejected: %s", session_id, request_id, err.message)
        reply.update(status="error", answer="", error={"code": err.code, "message": err.message})
    except Exception:
        _LOGGER.exception("[%s] upload %s failed", session_id, request_id)
        reply.update(
            status="error", answer="", error={"code": "internal", "message": "processing failed"}
        )
    await svc.publish(svc.topics.upload_reply(session_id), reply)


async def reject_busy(svc: VisionService, session_id: str, payload: bytes) -> None:
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
    await svc.publish(svc.topics.upload_reply(session_id), reply)


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


async def _process(
    svc: VisionService, session_id: str, media: str, data: dict[str, Any]
) -> dict[str, Any]:
    cfg = svc.config
    question = data.get("context") if isinstance(data.get("context"), str) else None
    device_id = data.get("device_id") if isinstance(data.get("device_id"), str) else None
    out: dict[str, Any] = {}
    if media == "text":
        if not question:
            raise MediaError("missing_context", "text upload without 'context'")
        context_text = await svc.context_provider(device_id or session_id, question)
        out["answer"] = await _answer(svc, question, context_text, None)
        return out

    raw = decode_base64(data.get("data"), cfg.max_upload_bytes)
    fmt = str(data.get("format") or "")
    ctx: dict[str, Any] | None = None
    if media == "image":
        image = await asyncio.to_thread(decode_image, raw, cfg.max_pixels)
        analysis = await svc.analyzer.analyze(image.bgr, with_ocr=wants_ocr(cfg.ocr, question))
        fmt = image.format
        ctx = _context(analysis, fmt, session_id=session_id, device_id=device_id, question=question)
    elif media == "video":
        frames = await asyncio.to_thread(
            sample_video, raw, cfg.video_sample_frames, cfg.max_pixels, cfg.max_clip_seconds
        )
        ctx = await _video_context(
            svc, frames, fmt or "mp4", session_id=session_id, device_id=device_id, question=question
        )
    else:  # audio
        if svc.transcriber is None:
            raise MediaError("stt_unavailable", "this server has no speech-to-text engine")
        pcm = await asyncio.to_thread(decode_audio, raw, cfg.max_clip_seconds)
        transcript = await svc.transcriber(pcm.astype("float32") / 32768.0)
        out["transcript"] = transcript
        question = question or transcript or None

    if ctx is not None:
        out["visual_context"] = ctx
        _remember_attachment(svc, {session_id, device_id} - {None}, ctx)
    if svc.store is not None and cfg.store_uploads:
        record = await asyncio.to_thread(
            svc.store.add, "upload", raw, media_type=media, fmt=fmt or "bin",
            device_id=device_id, session_id=session_id,
            labels=sorted({o["label"] for o in ctx["analysis"]["objects"]}) if ctx else [],
            analysis=(ctx or {}).get("analysis", {"transcript": out.get("transcript")}),
        )  # fmt: skip
        out["media_id"] = record.media_id
    if media == "audio" and (not question or svc.answerer is None):
        out["answer"] = ""  # the transcript is the result when there is nothing to answer with
        return out
    context_text = context_for_llm([ctx]) if ctx is not None else None
    if media == "audio" and question:
        context_text = await svc.context_provider(device_id or session_id, question)
    out["answer"] = await _answer(svc, question, context_text, ctx)
    return out


def _remember_attachment(svc: VisionService, keys: set[str | None], ctx: dict[str, Any]) -> None:
    """Keep the context for the sender's next question; forget expired ones."""
    now = time.time()
    max_age = svc.config.attachment_max_age
    for old in [k for k, a in svc.attachments.items() if now - a.received > max_age]:
        del svc.attachments[old]
    for key in keys:
        if key:
            svc.attachments[key] = Attachment(ctx, now)


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
        timestamp=iso_utc(),
        user_context=question,
        device_id=device_id,
        session_id=session_id,
        media_type=media_type,
    )


async def _video_context(
    svc: VisionService,
    frames: list[tuple[float, Any]],
    fmt: str,
    *,
    session_id: str,
    device_id: str | None,
    question: str | None,
) -> dict[str, Any]:
    """Analyse sampled frames; the busiest one is the context, the rest a per-second summary."""
    analyses = [(t, await svc.analyzer.analyze(bgr)) for t, bgr in frames]
    best_t, best = max(analyses, key=lambda item: len(item[1].objects))
    ctx = _context(
        best, fmt, session_id=session_id, device_id=device_id, question=question, media_type="video"
    )
    ctx["media"]["frame_time_s"] = round(best_t, 2)
    ctx["analysis"]["frames"] = [
        {"time_s": round(t, 2), "description": a.description(), "labels": a.labels}
        for t, a in analyses
    ]
    return ctx


async def _answer(
    svc: VisionService, question: str | None, context_text: str | None, ctx: dict[str, Any] | None
) -> str:
    if question and svc.answerer is not None:
        return await svc.answerer(question, context_text)
    if ctx is not None:
        return f"I see {ctx['analysis']['description']}."
    raise MediaError("llm_unavailable", "this server has no language model to answer with")
