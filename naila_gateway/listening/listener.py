"""One device's listening state machine: which utterances go to the AI server, and when.

Triggers: the wake word (`wake_word` mode), the talk button (`push_to_talk`), nothing (`always`).
Windows opened by a trigger or a finished reply let the next utterance through without one:
- command window: after a wake word said alone, the command may follow (`command_seconds`);
- follow-up window: after a reply finished playing (`follow_up_seconds`).
A window is consumed by the utterance it lets through (one too short to send leaves it open).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np

from naila_gateway.listening.preferences import ListeningChoice
from naila_gateway.listening.settings import ListeningSettings
from naila_gateway.listening.wake_word import MODEL_RATE, Downsampler, WakeWordDetector
from naila_gateway.pcm import FRAME_SECONDS
from naila_protocol.vocab import ListeningMode

_LOGGER = logging.getLogger(__name__)
BATCH_FRAMES = 3
"""20 ms frames handed to the wake word model at once (one executor call per 60 ms)."""


class Listener:
    """Mode, wake word detector, push-to-talk button and listening windows of one device."""

    def __init__(self, choice: ListeningChoice, settings: ListeningSettings) -> None:
        self.settings = settings
        self.choice = choice
        self.talking = False
        """Push-to-talk held."""
        self._window_until = 0.0
        """monotonic() until which an utterance may start without a trigger."""
        self._detector: WakeWordDetector | None = None
        self._downsampler = Downsampler()
        self._pending: list[np.ndarray] = []
        self._running: asyncio.Future[Any] | None = None
        """The executor call using the model, if one is running."""
        self.wakes = 0
        self._closed = False

    @property
    def mode(self) -> ListeningMode:
        return self.choice.mode

    def choose(self, choice: ListeningChoice) -> None:
        """A new mode or wake word from the device's status, settings or a command."""
        if choice.mode is not ListeningMode.PUSH_TO_TALK:
            self.talking = False
        self.choice = choice

    # triggers -------------------------------------------------------------------------
    async def hear(self, frame: np.ndarray) -> int | None:
        """One 48 kHz frame (wake_word mode only); on a wake, how many frames ago it was heard.

        Frames are batched (BATCH_FRAMES) and the model runs in the default executor.
        """
        if self.mode is not ListeningMode.WAKE_WORD or self._closed:
            return None
        self._pending.append(self._downsampler.process(frame))
        if len(self._pending) < BATCH_FRAMES:
            return None
        pcm = np.concatenate(self._pending).tobytes()
        self._pending.clear()
        detector = await self._current_detector()
        if detector is None:
            return None
        loop = asyncio.get_running_loop()
        self._running = loop.run_in_executor(None, detector.process, pcm)
        try:
            found = await self._running
        finally:
            self._running = None
        if found is None or detector.model is not self.choice.wake_word:
            return None
        self.wakes += 1
        self.open_window(self.settings.command_seconds)
        return int((len(pcm) // 2 - found) / (MODEL_RATE * FRAME_SECONDS))

    async def _current_detector(self) -> WakeWordDetector | None:
        """The model of the current wake word (loaded off the loop, ≈ 1 ms, the first time)."""
        wanted = self.choice.wake_word
        if self._detector is not None and self._detector.model is not wanted:
            self._detector.close()
            self._detector = None
        if self._detector is None:
            loop = asyncio.get_running_loop()
            self._running = loop.run_in_executor(None, WakeWordDetector, wanted)
            try:
                self._detector = await self._running
            finally:
                self._running = None
            _LOGGER.debug("wake word model %s loaded", wanted)
        if self._closed:
            self._detector.close()
            self._detector = None
        return self._detector

    def talk(self, pressed: bool) -> None:
        """The talk button (push_to_talk mode; ignored otherwise)."""
        self.talking = pressed and self.mode is ListeningMode.PUSH_TO_TALK

    # windows --------------------------------------------------------------------------
    def open_window(self, seconds: float) -> None:
        self._window_until = max(self._window_until, time.monotonic() + seconds)

    def open_follow_up(self) -> None:
        """A reply finished playing (or a start_conversation prompt did)."""
        if self.mode is not ListeningMode.ALWAYS:
            self.open_window(self.settings.follow_up_seconds)

    def window_open(self) -> bool:
        return time.monotonic() < self._window_until

    def accepts(self) -> bool:
        """May an utterance that starts now go to the AI server?"""
        if self.mode is ListeningMode.ALWAYS:
            return True
        if self.mode is ListeningMode.PUSH_TO_TALK and self.talking:
            return True
        return self.window_open()

    def consume(self) -> None:
        """An utterance went to the AI server: the window it used is closed."""
        self._window_until = 0.0

    @property
    def waiting(self) -> bool:
        """Listening for speech without a trigger (a window is open, or the button is held)."""
        return self.mode is not ListeningMode.ALWAYS and (self.talking or self.window_open())

    async def close(self) -> None:
        """Free the model (after the executor call using it, if one runs)."""
        self._closed = True
        running = self._running
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)
        if self._detector is not None:
            self._detector.close()
            self._detector = None
