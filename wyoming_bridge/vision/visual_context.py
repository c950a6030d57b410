"""Unified visual context JSON (docs/vision.md) and visual-query detection by keyword groups."""

from __future__ import annotations

import json
import re
from typing import Any

from .analysis import Analysis

KEYWORD_GROUPS: dict[str, tuple[str, ...]] = {
    "direct": ("see", "look", "show", "camera", "picture", "photo", "image"),
    "spatial": ("here", "there", "this", "that"),
    "descriptive": ("describe", "what's", "what is", "how many", "is there"),
    "location": ("desk", "room", "door", "window", "outside", "screen"),
    "analysis": ("read", "ocr", "text", "recognize", "identify"),
}
_PATTERNS = {
    group: re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    for group, words in KEYWORD_GROUPS.items()
}
SOURCE_TYPES = ("webrtc_stream", "mqtt_snapshot", "http_upload", "mqtt_upload", "history")


def query_groups(text: str) -> set[str]:
    """The KEYWORD_GROUPS present in `text`."""
    normalized = text.replace("\u2019", "'")
    return {group for group, pattern in _PATTERNS.items() if pattern.search(normalized)}


def is_visual_query(text: str) -> bool:
    """Direct, analysis or location words trigger vision; spatial or descriptive words only
    together ("what's this?"), since alone they are in most questions ("what's the time?")."""
    groups = query_groups(text)
    return bool(groups & {"direct", "analysis", "location"}) or {"spatial", "descriptive"} <= groups


def wants_ocr(mode: str, question: str | None) -> bool:
    """The OCR rule: OCR is slow (~1-4 s), so mode 'query' reads text only when asked to."""
    return mode == "always" or (
        mode == "query" and bool(question) and "analysis" in query_groups(question or "")
    )


def build_visual_context(
    analysis: Analysis,
    *,
    source_type: str,
    media_format: str,
    timestamp: str,
    user_context: str | None,
    device_id: str | None = None,
    session_id: str | None = None,
    media_type: str = "image",
    extra_source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one JSON shape handed to the LLM and returned in upload replies."""
    source: dict[str, Any] = {"type": source_type, "device_id": device_id, "session_id": session_id}
    if extra_source:
        source.update(extra_source)
    return {
        "source": source,
        "media": {
            "type": media_type,
            "format": media_format,
            "width": analysis.width,
            "height": analysis.height,
            "timestamp": timestamp,
        },
        "analysis": analysis.to_json(),
        "user_context": user_context,
    }


def context_for_llm(contexts: list[dict[str, Any]], note: str | None = None) -> str:
    """Text for the LLM's user turn: one sentence per image, then the compact JSON."""
    lines = []
    if note:
        lines.append(note)
    for ctx in contexts:
        src = ctx["source"]
        where = src.get("device_id") or src.get("session_id") or "the image"
        lines.append(
            f"{ctx['media']['timestamp']} {src['type']} from {where} shows: "
            f"{ctx['analysis']['description']}."
        )
    compact = [{k: v for k, v in ctx.items() if k != "user_context"} for ctx in contexts]
    lines.append("Visual context JSON: " + json.dumps(compact, separators=(",", ":")))
    return "\n".join(lines)
