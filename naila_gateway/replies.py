"""Book-keeping of the requests whose reply (or announcement) plays on one device."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

from naila_protocol.framing import ReplySummary


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex[:16]}"


class PendingReply:
    """Book-keeping for one request whose reply may play on this device."""

    __slots__ = (
        "announce",
        "converse",
        "first_audio_ms",
        "first_frame_at",
        "played_at",
        "request_id",
        "sent_at",
        "speech_end",
        "summary",
    )

    def __init__(
        self, request_id: str, speech_end: float | None, *, announce: bool, converse: bool = False
    ) -> None:
        self.request_id = request_id
        self.speech_end = speech_end
        self.sent_at: float | None = None
        """When the request was complete (FINAL/basic/SPEAK written)."""
        self.first_frame_at: float | None = None
        """When the first reply audio arrived from the server."""
        self.played_at: float | None = None
        """When the first reply frame was handed to WebRTC."""
        self.announce = announce
        self.converse = converse
        """start_conversation: the device listens for the answer once the prompt played."""
        self.first_audio_ms: float | None = None
        self.summary: ReplySummary | None = None


def _ms(start: float | None, end: float | None) -> float | None:
    return round((end - start) * 1000, 1) if start is not None and end is not None else None


def gateway_timings(reply: PendingReply) -> dict[str, float | None]:
    """Where first_audio_ms went: hang-over, server (incl. transport), queue to the track."""
    return {
        "end_of_speech_ms": _ms(reply.speech_end, reply.sent_at),
        "server_ms": _ms(reply.sent_at, reply.first_frame_at),
        "playout_ms": _ms(reply.first_frame_at, reply.played_at),
    }


class Playout:
    """Replies whose audio is playing on the device, and when each one finished."""

    def __init__(self) -> None:
        self._playing: dict[str, PendingReply] = {}
        self._last_tag: str | None = None

    def __bool__(self) -> bool:
        return bool(self._playing)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._playing))

    def started(self, reply: PendingReply) -> None:
        self._playing[reply.request_id] = reply

    def frame_sent(self, tag: str | None, queued: Callable[[], list[str]]) -> list[PendingReply]:
        """A frame of request `tag` (None: silence) left; the replies that finished before it.

        Once END came all of a reply's audio is queued: when the track moves on to silence or to
        another request and none of it is left, it all played.
        """
        if tag == self._last_tag or not self._playing:
            self._last_tag = tag
            return []
        self._last_tag = tag
        left = set(queued()) if tag is not None else set()
        done = [
            reply
            for request_id, reply in self._playing.items()
            if request_id != tag and reply.summary is not None and request_id not in left
        ]
        for reply in done:
            del self._playing[reply.request_id]
        return done

    def clear(self) -> None:
        self._playing.clear()
