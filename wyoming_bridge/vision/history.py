"""Turn a historical question into a media-store query: time range, camera, event type."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

_HISTORY_HINTS = re.compile(
    r"\b(did|was|were|happened|yesterday|last night|earlier|ago|last alert|last time|"
    r"this morning|tonight|history|recorded|record|stored|previous|latest alert)\b"
    r"|\bat \d{1,2}(:\d{2})?\s*(am|pm)\b|\blast \w+ (alert|event|detection)\b",
    re.IGNORECASE,
)
_AT_TIME = re.compile(r"\bat (\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b", re.IGNORECASE)
_AGO = re.compile(r"\b(\d+|an?|one|two|three)\s+(minute|hour)s?\s+ago\b", re.IGNORECASE)
_NAMED_CAMERA = re.compile(r"\b(?:the\s+)?([a-z]+(?:\s+[a-z]+)?)\s+(?:camera|cam)\b")
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}


@dataclass
class HistoryQuery:
    start: float | None = None
    end: float | None = None
    sources: list[str] = field(default_factory=list)
    """Device ids or zones named in the question."""
    event_type: str | None = None
    kind: str | None = None
    unknown_camera: str | None = None
    """A camera the question names ("the garage camera") that matches no known source."""


def is_historical(text: str) -> bool:
    return bool(_HISTORY_HINTS.search(text))


def _spoken(name: str) -> str:
    return re.sub(r"[_\-.:]+", " ", name).strip().lower()


def _time_range(text: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    lowered = text.lower()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    at = _AT_TIME.search(lowered)
    if at and (at.group(3) or at.group(2)):
        hour = int(at.group(1)) % 12 if at.group(3) else int(at.group(1))
        if at.group(3) == "pm":
            hour += 12
        moment = midnight.replace(hour=min(hour, 23), minute=int(at.group(2) or 0))
        if "yesterday" in lowered or moment > now:
            moment -= timedelta(days=1)
        return moment - timedelta(minutes=30), moment + timedelta(minutes=30)
    ago = _AGO.search(lowered)
    if ago:
        count = _WORD_NUMBERS.get(ago.group(1)) or int(ago.group(1))
        delta = timedelta(minutes=count) if ago.group(2) == "minute" else timedelta(hours=count)
        return now - delta - delta / 2, now - delta + delta / 2
    if "last night" in lowered or "tonight" in lowered:
        return midnight - timedelta(hours=6), midnight + timedelta(hours=6)
    if "yesterday" in lowered:
        return midnight - timedelta(days=1), midnight
    if "this morning" in lowered:
        return midnight + timedelta(hours=5), midnight + timedelta(hours=12)
    if "today" in lowered:
        return midnight, now
    if "last hour" in lowered:
        return now - timedelta(hours=1), now
    return None, None


def _event_type(text: str) -> tuple[str | None, str | None]:
    lowered = text.lower()
    event = None
    if re.search(r"\b(fall|fell|fallen)\b", lowered):
        event = "fall_detected"
    elif re.search(r"\b(person|people|someone|somebody|anyone|anybody|visitor)\b", lowered):
        event = "person_detected"
    kind = "alert" if re.search(r"\balerts?\b", lowered) else None
    return event, kind


def parse_history_query(
    text: str, now: datetime, known_sources: Iterable[str]
) -> HistoryQuery | None:
    """None when the question is not about the past; `now` must be timezone-aware local time."""
    if not is_historical(text):
        return None
    start, end = _time_range(text, now)
    spoken = " " + re.sub(r"[^a-z0-9 ]+", " ", text.lower()) + " "
    sources = sorted(
        {s for s in known_sources if s and f" {_spoken(s)} " in spoken},
        key=lambda s: -len(s),
    )
    event, kind = _event_type(text)
    named = _NAMED_CAMERA.search(text.lower())
    unknown = named.group(1) if named and not sources else None
    return HistoryQuery(
        unknown_camera=unknown,
        start=start.timestamp() if start else None,
        end=end.timestamp() if end else None,
        sources=sources,
        event_type=event,
        kind=kind,
    )
