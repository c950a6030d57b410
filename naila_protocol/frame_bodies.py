"""JSON bodies of the audio socket's frames (docs/protocol.md): END, TURN and PARTIAL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from naila_protocol.framing import Frame


@dataclass(slots=True)
class ReplySummary:
    """Body of an END frame: what the gateway may show or publish about a reply."""

    status: str = "ok"
    """'ok', 'empty' (silence/noise), 'cancelled' or 'error'."""
    transcript: str = ""
    reply: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    """stt_ms, llm_first_token_ms, tts_first_chunk_ms, first_audio_ms, total_ms, ha_ms."""
    route: str | None = None
    """Who answered: a `naila_protocol.vocab.ReplyRoute` value (None: not routed)."""
    route_reason: str | None = None
    """Why: a `naila_protocol.vocab.RouteReason` value or Home Assistant's error code."""

    def to_json(self) -> bytes:
        data: dict[str, object] = {
            "status": self.status,
            "transcript": self.transcript,
            "reply": self.reply,
            "timings": self.timings,
        }
        if self.route is not None:
            data.update(route=self.route, route_reason=self.route_reason)
        return json.dumps(data).encode()

    @classmethod
    def from_frame(cls, frame: Frame) -> ReplySummary:
        data = frame.json()
        return cls(
            status=str(data.get("status", "ok")),
            transcript=str(data.get("transcript", "")),
            reply=str(data.get("reply", "")),
            timings={k: float(v) for k, v in dict(data.get("timings", {})).items()},
            route=_opt_text(data.get("route")),
            route_reason=_opt_text(data.get("route_reason")),
        )


def _opt_text(value: object) -> str | None:
    return value[:64] if isinstance(value, str) and value else None


TURN_DISABLED = "disabled"
"""TurnVerdict.reason of a server without an end-of-turn model: no verdicts will follow."""
TURN_TEXT_ONLY = "text"
"""TurnSubscription.signals of a gateway that judges the audio itself (Smart Turn)."""


@dataclass(frozen=True, slots=True)
class TurnSubscription:
    """Body of the gateway's TURN frame: empty (the server's own signals) or text rules only."""

    signals: str | None = None

    def to_json(self) -> bytes:
        return b"" if self.signals is None else json.dumps({"signals": self.signals}).encode()

    @classmethod
    def from_frame(cls, frame: Frame) -> TurnSubscription:
        """Raises ValueError/TypeError for a body that is not a subscription."""
        if not frame.payload:
            return cls()
        signals = frame.json().get("signals")
        if signals is not None and signals != TURN_TEXT_ONLY:
            raise ValueError(f"signals must be {TURN_TEXT_ONLY!r} or null")
        return cls(signals)


@dataclass(slots=True)
class TurnVerdict:
    """Body of a TURN frame: the server's view of a pause in a chunked utterance."""

    complete: bool | None
    """True: the turn is over; False: wait for more; None: no opinion (fixed hang-over)."""
    audio_ms: int
    """Milliseconds of the request's audio the verdict covers (it ends at the pause)."""
    reason: str = ""
    """Which signal decided: text_incomplete, text_command, text_clause, audio, ..."""
    probability: float | None = None
    """The end-of-turn model's probability, when it ran."""
    transcript: str = ""
    """The speculative transcript the verdict read."""
    timings: dict[str, float] = field(default_factory=dict)
    """model_ms / text_ms: from the pause to the model's probability and to the transcript."""

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "complete": self.complete,
                "audio_ms": self.audio_ms,
                "reason": self.reason,
                "probability": self.probability,
                "transcript": self.transcript,
                "timings": self.timings,
            }
        ).encode()

    @classmethod
    def from_frame(cls, frame: Frame) -> TurnVerdict:
        """Raises ValueError/TypeError for a body that is not a verdict."""
        data = frame.json()
        complete, audio_ms = data.get("complete"), data.get("audio_ms")
        probability = data.get("probability")
        if complete is not None and not isinstance(complete, bool):
            raise ValueError("complete must be true, false or null")
        if not isinstance(audio_ms, int) or isinstance(audio_ms, bool) or audio_ms < 0:
            raise ValueError("audio_ms must be a non-negative integer")
        if probability is not None and not isinstance(probability, int | float):
            raise ValueError("probability must be a number or null")
        return cls(
            complete,
            audio_ms,
            str(data.get("reason", "")),
            None if probability is None else float(probability),
            str(data.get("transcript", "")),
            {str(k): float(v) for k, v in dict(data.get("timings") or {}).items()},
        )


@dataclass(slots=True)
class PartialTranscript:
    """Body of a PARTIAL frame: what the user said so far, transcribed at a pause.

    Speculative: speech may go on and change it; only the END frame's transcript is final
    (and only that one is acted on).
    """

    text: str
    audio_ms: int
    """Milliseconds of the request's audio it covers (it ends at the pause)."""

    def to_json(self) -> bytes:
        return json.dumps({"text": self.text, "audio_ms": self.audio_ms}).encode()

    @classmethod
    def from_frame(cls, frame: Frame) -> PartialTranscript:
        """Raises ValueError/TypeError for a body that is not a partial transcript."""
        data = frame.json()
        text, audio_ms = data.get("text"), data.get("audio_ms")
        if not isinstance(text, str):
            raise ValueError("text must be a string")
        if not isinstance(audio_ms, int) or isinstance(audio_ms, bool) or audio_ms < 0:
            raise ValueError("audio_ms must be a non-negative integer")
        return cls(text, audio_ms)
