"""Chunked utterances (CHUNK ... FINAL): start the reply while the user is still silent.

The gateway streams an utterance while it is spoken. When the stream pauses (no chunk
for `pause_s`, or the last `pause_s` of audio is quiet) the pipeline is started on the
audio so far and its events are recorded. At FINAL, if nothing but quiet audio came
after that snapshot, the recorded reply is used — often its first sentence is already
synthesized. Otherwise the speculation is cancelled and the whole utterance is run.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from naila_protocol.framing import PartialTranscript, TurnVerdict
from naila_protocol.settings import setting
from naila_protocol.tasks import TaskSet

from .audio import pcm16_to_float, pcm16_to_stt, peak_window_dbfs, rms_dbfs
from .pipeline import Pipeline, PipelineEvent, RequestInfo
from .turn_detector import TurnDetector, TurnSignals, judge_pause

_LOGGER = logging.getLogger(__name__)


class SpeculationMode(enum.StrEnum):
    OFF = "off"
    STT = "stt"
    """Only the transcript is started early."""
    FULL = "full"
    """Transcript, LLM and first TTS sentences are started early."""


@dataclass(frozen=True, slots=True)
class SpeculationSettings:
    mode: SpeculationMode = setting(
        SpeculationMode.FULL,
        env="SPECULATION",
        flag="--speculation",
        group="gateway audio socket",
        choices=[mode.value for mode in SpeculationMode],
        parse=SpeculationMode,
        help="work started on chunked utterances before FINAL",
    )
    pause_s: float = setting(
        0.15,
        env="SPECULATION_PAUSE",
        group="gateway audio socket",
        help="seconds of pause (a gap in the chunks or quiet audio at their end) that start it",
    )
    quiet_floor_dbfs: float = -50.0
    """Audio below this level is always quiet."""
    quiet_margin_db: float = 22.0
    """Audio this far below the utterance's loudest 50 ms is quiet."""


class EventRecorder:
    """Runs a pipeline event stream in a task and replays it to a later reader."""

    def __init__(self, source: AsyncIterator[PipelineEvent], cancel: threading.Event) -> None:
        self.cancel_event = cancel
        self._events: list[PipelineEvent] = []
        self._changed = asyncio.Event()
        self._done = False
        self._error: BaseException | None = None
        self._task = asyncio.create_task(self._pump(source), name="speculation")

    async def _pump(self, source: AsyncIterator[PipelineEvent]) -> None:
        try:
            async with contextlib.aclosing(source):  # type: ignore[type-var]
                async for event in source:
                    self._events.append(event)
                    self._changed.set()
        except asyncio.CancelledError:
            self._error = asyncio.CancelledError()  # replay() raises it to its reader
            raise
        except Exception as err:
            self._error = err
        finally:
            self._done = True
            self._changed.set()

    async def replay(self) -> AsyncIterator[PipelineEvent]:
        """Every event from the start, then live ones until the stream ends."""
        index = 0
        while True:
            if index < len(self._events):
                index += 1
                yield self._events[index - 1]
                continue
            if self._done:
                if self._error is not None:
                    raise self._error
                return
            self._changed.clear()
            await self._changed.wait()

    def cancel(self) -> None:
        self.cancel_event.set()
        self._task.cancel()

    async def stop(self) -> None:
        """Cancel the stream (if still running) and wait until it is closed."""
        self.cancel()
        await asyncio.wait({self._task})


class ChunkedUtterance:
    """Collects CHUNK audio for one request and speculates at pauses."""

    def __init__(
        self,
        pipeline: Pipeline,
        info: RequestInfo,
        rate: int,
        cancel: threading.Event,
        settings: SpeculationSettings,
        *,
        turn: TurnDetector | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.turn = turn
        self.on_turn: Callable[[TurnVerdict], None] | None = None
        """Set when the gateway asked for TURN frames: called with each pause's verdict."""
        self.on_partial: Callable[[PartialTranscript], None] | None = None
        """Set when the gateway asked for PARTIAL frames: called with each new speculative
        transcript (never acted on: only the reply's final transcript is)."""
        self._last_partial = ""
        self.turn_signals: TurnSignals | None = None
        """The signals the gateway asked for (None: the server's TURN_SIGNALS)."""
        self._judge: asyncio.Task[None] | None = None
        self.info = info
        self.rate = rate
        self.cancel_event = cancel
        self.settings = settings
        self.audio = bytearray()
        self._speech_peak_dbfs = -120.0
        self._snapshot = 0
        """Bytes of audio the current speculation was started on."""
        self._recorder: EventRecorder | None = None
        self._transcript: asyncio.Task[str] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks = TaskSet(_LOGGER)
        """Speculative transcriptions and end-of-turn judges, awaited by aclose()."""
        self._dropped: list[EventRecorder] = []
        """Speculations dropped (cancelled) but not yet awaited."""
        self.speculations = 0

    def add(self, pcm: bytes) -> None:
        """Append streamed audio; drops a speculation that new speech made stale."""
        self.audio += pcm
        if self.settings.mode is SpeculationMode.OFF:
            return
        samples = pcm16_to_float(pcm)
        self._speech_peak_dbfs = max(self._speech_peak_dbfs, peak_window_dbfs(samples, self.rate))
        if self._has_speculation() and not self._quiet_since(self._snapshot):
            _LOGGER.debug("%s: speech resumed, dropping speculation", self.info.request_id)
            self._drop_speculation()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.settings.pause_s, self._pause)
        tail = self.rate * 2 * self.settings.pause_s
        if len(self.audio) >= tail and self._quiet_since(len(self.audio) - int(tail) // 2 * 2):
            self._pause()

    def finish(self, pcm: bytes) -> AsyncIterator[PipelineEvent]:
        """FINAL arrived: the reply's events (replayed from a speculation when valid)."""
        self.audio += pcm
        if self._timer is not None:
            self._timer.cancel()
        if self._has_speculation() and self._quiet_since(self._snapshot):
            _LOGGER.debug("%s: using speculation at %d bytes", self.info.request_id, self._snapshot)
            if self._recorder is not None:
                return self._recorder.replay()
            return self.pipeline.run(
                bytes(self.audio), self.rate, self.info, self.cancel_event, self._transcript
            )
        self._drop_speculation()
        return self.pipeline.run(bytes(self.audio), self.rate, self.info, self.cancel_event)

    def close(self) -> None:
        """Request over or cancelled: stop any speculation still running."""
        if self._timer is not None:
            self._timer.cancel()
        self._drop_speculation()

    async def aclose(self) -> None:
        """close(), then wait until every speculation task has ended."""
        self.close()
        await self._tasks.close()
        while self._dropped:
            await self._dropped.pop().stop()

    def _has_speculation(self) -> bool:
        return self._recorder is not None or self._transcript is not None

    def _pause(self) -> None:
        if self._has_speculation() or self.cancel_event.is_set() or not self.audio:
            return
        if self._speech_peak_dbfs < self.settings.quiet_floor_dbfs:
            return  # nothing but silence so far
        self._snapshot = len(self.audio)
        self.speculations += 1
        audio = bytes(self.audio)
        if self.settings.mode is SpeculationMode.FULL:
            cancel = _linked_event(self.cancel_event)
            text = self._tasks.spawn(
                self.pipeline.transcribe(audio, self.rate, self.info, cancel),
                name=f"speculative stt {self.info.request_id}",
                awaited=True,
            )
            events = self.pipeline.run(audio, self.rate, self.info, cancel, text)
            self._recorder = EventRecorder(events, cancel)
        else:
            text = self._transcript = self._tasks.spawn(
                self.pipeline.transcribe(audio, self.rate, self.info, self.cancel_event),
                name=f"speculative stt {self.info.request_id}",
                awaited=True,
            )
        if self.turn is not None and self.on_turn is not None:
            self._judge = self._tasks.spawn(self._judge_pause(text, audio), name="turn")
        if self.on_partial is not None:
            audio_ms = len(audio) * 1000 // (2 * self.rate)
            self._tasks.spawn(self._report_partial(text, audio_ms), name="partial transcript")

    async def _report_partial(self, transcript: asyncio.Task[str], audio_ms: int) -> None:
        """Send this pause's transcript once it is known, if it says something new."""
        await asyncio.wait({transcript})  # its own failure or cancellation is not ours
        if transcript.cancelled() or transcript.exception() is not None:
            return
        text = transcript.result().strip()
        if text and text != self._last_partial and self.on_partial is not None:
            self._last_partial = text
            self.on_partial(PartialTranscript(text, audio_ms))

    async def _judge_pause(self, transcript: asyncio.Task[str], audio: bytes) -> None:
        """Send the end-of-turn verdict of this pause (nothing if speech resumed first)."""
        assert self.turn is not None and self.on_turn is not None
        audio_ms = len(audio) * 1000 // (2 * self.rate)
        try:
            verdict = await judge_pause(
                self.turn,
                asyncio.shield(transcript),
                pcm16_to_stt(audio, self.rate),
                audio_ms,
                signals=self.turn_signals,
            )
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the reply itself reports STT failures
            _LOGGER.debug("%s: no turn verdict: %s", self.info.request_id, err)
            return
        self.on_turn(verdict)

    def _drop_speculation(self) -> None:
        if self._judge is not None:
            self._judge.cancel()
            self._judge = None
        if self._recorder is not None:
            self._recorder.cancel()
            self._dropped.append(self._recorder)
        if self._transcript is not None:
            self._transcript.cancel()
        self._recorder = None
        self._transcript = None

    def _quiet_since(self, offset: int) -> bool:
        """True if the audio after byte `offset` holds no speech."""
        tail = pcm16_to_float(bytes(self.audio[offset:]))
        if tail.size == 0:
            return True
        threshold = max(
            self.settings.quiet_floor_dbfs, self._speech_peak_dbfs - self.settings.quiet_margin_db
        )
        return peak_window_dbfs(tail, self.rate) < threshold and rms_dbfs(tail) < threshold


def _linked_event(parent: threading.Event) -> threading.Event:
    """A cancel event for a speculation; set on its own or checked with the request's."""
    return _LinkedEvent(parent)


class _LinkedEvent(threading.Event):
    def __init__(self, parent: threading.Event) -> None:
        super().__init__()
        self._parent = parent

    def is_set(self) -> bool:
        return super().is_set() or self._parent.is_set()
