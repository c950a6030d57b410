"""End of turn: how much silence ends an utterance, from the AI server's TURN verdicts.

`fixed`: always `AUDIO_SILENCE_FRAMES` of silence (the classic hang-over). `semantic`: while
a chunked utterance pauses, the server judges its speculative transcript (and Smart Turn) and
sends a TURN frame; "complete" ends the turn after `min_silence_s`, "incomplete" waits up to
`max_silence_s` for the speaker to go on, "no opinion" falls back to the fixed hang-over, and
no verdict at all by `verdict_wait_s` ends the turn (a server that sends no TURN frames).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from naila_gateway.pcm import FRAME_SECONDS
from naila_protocol.framing import TURN_DISABLED, TurnVerdict
from naila_protocol.settings import load_settings, setting

_LOGGER = logging.getLogger(__name__)

FRAME_MS = round(FRAME_SECONDS * 1000)


_GROUP = "End of turn"


class EndOfTurnMode(enum.StrEnum):
    FIXED = "fixed"
    SEMANTIC = "semantic"


@dataclass(frozen=True, slots=True)
class EndOfTurnSettings:
    """AUDIO_END_OF_TURN* settings (bench/end_of_turn.py measured the defaults)."""

    mode: EndOfTurnMode = setting(
        EndOfTurnMode.FIXED,
        env="AUDIO_END_OF_TURN",
        flag="--end-of-turn",
        group=_GROUP,
        choices=list(EndOfTurnMode),
        parse=EndOfTurnMode,
        help="fixed: a fixed silence ends a turn; semantic: the server's verdicts (stream only)",
    )
    min_silence_s: float = setting(
        0.16,
        env="AUDIO_END_OF_TURN_MIN_SILENCE",
        group=_GROUP,
        help="silence that ends a turn the server called complete",
    )
    max_silence_s: float = setting(
        2.0,
        env="AUDIO_END_OF_TURN_MAX_SILENCE",
        group=_GROUP,
        help="longest wait after a pause the server called incomplete (1.5-3 s is sensible)",
    )
    verdict_wait_s: float = setting(
        1.0,
        env="AUDIO_END_OF_TURN_VERDICT_WAIT",
        group=_GROUP,
        help="silence after which a pause with no verdict at all ends the turn",
    )

    def validate(self) -> None:
        if not 0.02 <= self.min_silence_s <= self.verdict_wait_s <= self.max_silence_s:
            raise ValueError(
                "AUDIO_END_OF_TURN_* must satisfy 0.02 <= min_silence <= verdict_wait <= "
                "max_silence"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EndOfTurnSettings:
        """Defaults overridden by the AUDIO_END_OF_TURN* variables that are set."""
        return load_settings(cls, environ)


def _frames(seconds: float) -> int:
    return max(1, round(seconds / FRAME_SECONDS))


class TurnGate:
    """Per utterance: the silent frames the current pause needs before the turn ends."""

    def __init__(self, settings: EndOfTurnSettings, fixed_frames: int) -> None:
        self.settings = settings
        self.fixed_frames = fixed_frames
        self._min = _frames(settings.min_silence_s)
        self._max = _frames(settings.max_silence_s)
        self._wait = _frames(settings.verdict_wait_s)
        self._speech_end_ms = 0
        self._verdict: TurnVerdict | None = None
        self.verdicts = 0
        self._warned = False
        self._server_disabled = False
        """The AI server said it has no end-of-turn model: fixed hang-over for good."""

    @property
    def semantic(self) -> bool:
        return self.settings.mode is EndOfTurnMode.SEMANTIC

    def reset(self) -> None:
        """A new utterance started."""
        self._speech_end_ms = 0
        self._verdict = None

    def observe(self, speech: bool, utterance_frames: int) -> None:
        """After each frame of an active utterance: speech moves the pause on."""
        if speech:
            self._speech_end_ms = utterance_frames * FRAME_MS
            self._verdict = None

    def on_verdict(self, verdict: TurnVerdict) -> None:
        """A TURN frame for this utterance; stale ones (speech came after) are ignored."""
        self.verdicts += 1
        if verdict.reason == TURN_DISABLED:
            self._server_disabled = True
        elif verdict.audio_ms + FRAME_MS >= self._speech_end_ms:
            self._verdict = verdict

    def required_frames(self) -> int:
        """Silent frames that end the utterance now."""
        if not self.semantic or self._server_disabled:
            return self.fixed_frames
        verdict = self._verdict
        if verdict is None:
            return self._wait
        if verdict.complete is None:
            return self.fixed_frames
        return self._min if verdict.complete else self._max

    def ended_without_verdict(self) -> None:
        """The turn ended on `verdict_wait_s`: warn once if the server never sent one."""
        if self.semantic and self._verdict is None and not self.verdicts and not self._warned:
            self._warned = True
            _LOGGER.warning(
                "no end-of-turn verdict from the AI server: turns end after %.1f s of silence",
                self.settings.verdict_wait_s,
            )
