"""Utterance detection: a per-device state machine over VAD decisions, one 20 ms frame at a time."""

from __future__ import annotations

import enum
from collections import deque

import numpy as np


class UtteranceEvent(enum.Enum):
    STARTED = "started"
    """First speech frame; `frames` now holds the pre-roll and that frame."""
    ENDED = "ended"
    """Enough trailing silence (or the maximum length) after enough speech."""
    DISCARDED = "discarded"
    """Trailing silence after too little speech (a click, a cough)."""


class UtteranceDetector:
    """Start on speech, end after `silence_frames` of silence; keeps a pre-roll and a minimum."""

    def __init__(
        self,
        *,
        silence_frames: int,
        preroll_frames: int,
        min_speech_frames: int,
        max_frames: int,
    ) -> None:
        self.silence_frames = silence_frames
        self.min_speech_frames = min_speech_frames
        self.max_frames = max_frames
        self._preroll: deque[np.ndarray] = deque(maxlen=max(preroll_frames, 1))
        self._preroll_frames = preroll_frames
        self.frames: list[np.ndarray] = []
        """Audio of the current utterance (pre-roll included); empty when idle."""
        self.speech_frames = 0
        self._silence_run = 0
        self.active = False

    def feed(self, frame: np.ndarray, speech: bool) -> UtteranceEvent | None:
        if not self.active:
            if not speech:
                if self._preroll_frames:
                    self._preroll.append(frame)
                return None
            self.active = True
            self.frames = [*self._preroll, frame]
            self._preroll.clear()
            self.speech_frames = 1
            self._silence_run = 0
            return UtteranceEvent.STARTED
        self.frames.append(frame)
        if speech:
            self.speech_frames += 1
            self._silence_run = 0
        else:
            self._silence_run += 1
        if self._silence_run >= self.silence_frames or len(self.frames) >= self.max_frames:
            event = (
                UtteranceEvent.ENDED
                if self.speech_frames >= self.min_speech_frames
                else UtteranceEvent.DISCARDED
            )
            self.active = False
            return event
        return None

    def restart(self, keep_frames: int) -> None:
        """Start the current utterance again from its last `keep_frames` frames (cut the wake word)."""
        self.frames = self.frames[-keep_frames:] if keep_frames > 0 else []
        self.speech_frames = 0

    def end(self) -> UtteranceEvent | None:
        """End the current utterance now (push-to-talk released); None when idle."""
        if not self.active:
            return None
        self.active = False
        if self.speech_frames >= self.min_speech_frames:
            return UtteranceEvent.ENDED
        return UtteranceEvent.DISCARDED

    def take_frames(self) -> list[np.ndarray]:
        """Hand over the finished utterance's audio and forget it."""
        frames, self.frames = self.frames, []
        return frames
