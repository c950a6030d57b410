"""End of turn: how much silence ends an utterance, from the AI server's TURN verdicts.

`fixed`: always `AUDIO_SILENCE_FRAMES` of silence (the classic hang-over). `semantic`: while
a chunked utterance pauses, the server judges its speculative transcript (and Smart Turn) and
sends a TURN frame; "complete" ends the turn after `min_silence_s`, "incomplete" waits up to
`max_silence_s` for the speaker to go on, "no opinion" falls back to the fixed hang-over, and
no verdict at all by `verdict_wait_s` ends the turn (a server that sends no TURN frames).
`smart_turn`: the gateway runs Smart Turn v3.2 itself once `probe_s` of a pause has passed
(`naila_gateway/turn_audio.py`), so the audio verdict is there once the model ran instead of
after the server's transcript; probability >= `threshold` ends the turn after `min_silence_s`,
below it waits up to `max_silence_s`. The server's text verdicts still count when they
arrive in time: a transcript waiting for more words holds the turn, a whole command ends it.
If the model fails at run time the fixed hang-over takes over (one warning).
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
    SMART_TURN = "smart_turn"


TEXT_INCOMPLETE = "text_incomplete"
TEXT_COMMAND = "text_command"
"""The reasons of the server's text verdicts (wyoming_bridge/turn_detector.py) smart_turn heeds."""


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
        help="fixed: a fixed silence ends a turn; semantic: the server's verdicts (stream only); "
        "smart_turn: the gateway's Smart Turn at each pause (and the server's text verdicts)",
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
    probe_s: float = setting(
        0.1,
        env="AUDIO_END_OF_TURN_PROBE",
        group=_GROUP,
        help="smart_turn: silence after which the gateway runs Smart Turn on the pause",
    )
    threshold: float = setting(
        0.5,
        env="AUDIO_END_OF_TURN_THRESHOLD",
        group=_GROUP,
        help="smart_turn: Smart Turn probability at or above which the turn is complete",
    )
    model: str | None = setting(
        None,
        env="AUDIO_END_OF_TURN_MODEL",
        group=_GROUP,
        help="smart_turn: Smart Turn ONNX file (none: the one inside the pipecat-ai package)",
    )

    def validate(self) -> None:
        if not 0.02 <= self.min_silence_s <= self.verdict_wait_s <= self.max_silence_s:
            raise ValueError(
                "AUDIO_END_OF_TURN_* must satisfy 0.02 <= min_silence <= verdict_wait <= "
                "max_silence"
            )
        if not 0.02 <= self.probe_s <= self.verdict_wait_s:
            raise ValueError("AUDIO_END_OF_TURN_PROBE must be between 0.02 s and verdict_wait")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("AUDIO_END_OF_TURN_THRESHOLD must be between 0 and 1")

    @property
    def asks_server(self) -> bool:
        """The gateway subscribes to the AI server's TURN verdicts."""
        return self.mode is not EndOfTurnMode.FIXED

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
        self._probe = _frames(settings.probe_s)
        self._speech_end_ms = 0
        self._verdict: TurnVerdict | None = None
        self._probability: float | None = None
        """smart_turn: the gateway's Smart Turn probability for the current pause."""
        self._probed_ms = -1
        """smart_turn: the pause (speech end, ms) Smart Turn was last started for."""
        self.audio_failed = False
        """smart_turn: the model failed at run time: the fixed hang-over for good."""
        self.verdicts = 0
        self._warned = False
        self._server_disabled = False
        """The AI server said it has no end-of-turn model: fixed hang-over for good."""

    @property
    def semantic(self) -> bool:
        """The AI server's verdicts are asked for (semantic or smart_turn)."""
        return self.settings.asks_server

    @property
    def smart_turn(self) -> bool:
        return self.settings.mode is EndOfTurnMode.SMART_TURN

    def reset(self) -> None:
        """A new utterance started."""
        self._speech_end_ms = 0
        self._verdict = None
        self._probability = None
        self._probed_ms = -1

    def observe(self, speech: bool, utterance_frames: int) -> None:
        """After each frame of an active utterance: speech moves the pause on."""
        if speech:
            self._speech_end_ms = utterance_frames * FRAME_MS
            self._verdict = None
            self._probability = None

    def probe_due(self, utterance_frames: int) -> int | None:
        """smart_turn: the pause (speech end, ms) to run Smart Turn on now, once per pause."""
        if not self.smart_turn or self.audio_failed or not self._speech_end_ms:
            return None
        if self._probed_ms == self._speech_end_ms:
            return None
        if utterance_frames * FRAME_MS - self._speech_end_ms < self._probe * FRAME_MS:
            return None
        self._probed_ms = self._speech_end_ms
        return self._speech_end_ms

    def pausing(self, speech_end_ms: int) -> bool:
        """The pause after `speech_end_ms` is still going on (safe to read from any thread)."""
        return self._speech_end_ms == speech_end_ms

    def on_probability(self, speech_end_ms: int, probability: float | None) -> None:
        """Smart Turn's answer for the pause after `speech_end_ms`; None: the model failed."""
        if probability is None:
            self.audio_failed = True
        elif speech_end_ms == self._speech_end_ms:
            self._probability = probability

    def on_verdict(self, verdict: TurnVerdict) -> None:
        """A TURN frame for this utterance; stale ones (speech came after) are ignored."""
        self.verdicts += 1
        if verdict.reason == TURN_DISABLED:
            self._server_disabled = True
        elif verdict.audio_ms + FRAME_MS >= self._speech_end_ms:
            self._verdict = verdict

    def required_frames(self) -> int:
        """Silent frames that end the utterance now."""
        if self.smart_turn:
            return self._smart_turn_frames()
        if not self.semantic or self._server_disabled:
            return self.fixed_frames
        verdict = self._verdict
        if verdict is None:
            return self._wait
        if verdict.complete is None:
            return self.fixed_frames
        return self._min if verdict.complete else self._max

    def _smart_turn_frames(self) -> int:
        if self.audio_failed:
            return self.fixed_frames
        reason = self._verdict.reason if self._verdict is not None else ""
        if reason == TEXT_INCOMPLETE:
            return self._max
        if reason == TEXT_COMMAND:
            return self._min
        if self._probability is None:
            return self._wait  # Smart Turn is still running on this pause
        return self._min if self._probability >= self.settings.threshold else self._max

    def ended_without_verdict(self) -> None:
        """The turn ended on `verdict_wait_s`: warn once if the server never sent one."""
        if (
            self.settings.mode is EndOfTurnMode.SEMANTIC
            and self._verdict is None
            and not self.verdicts
            and not self._warned
        ):
            self._warned = True
            _LOGGER.warning(
                "no end-of-turn verdict from the AI server: turns end after %.1f s of silence",
                self.settings.verdict_wait_s,
            )
