"""Utterance -> STT -> LLM token stream -> sentence splitter -> TTS per sentence -> PCM.

Everything heavy runs on the engines' worker threads (see runner.py); this module only
orchestrates on the event loop and measures stage timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from naila_protocol.framing import ReplySummary
from naila_protocol.settings import setting
from naila_protocol.tasks import cancel_and_wait

from .audio import pcm16_to_stt
from .engines import Engines
from .llm import build_messages
from .memory import ConversationMemory
from .routing.prompt import local_facts
from .sentences import SentenceSplitter

_LOGGER = logging.getLogger(__name__)

ContextProvider = Callable[[str, str], Awaitable[str | None]]
"""async (device_id, transcript) -> extra text for the LLM prompt, or None."""
FactsProvider = Callable[[str], str]
"""device_id -> what the LLM must not invent: local date and time, the device and its area."""


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    first_clause_words: int = setting(
        4,
        env="PIPELINE_FIRST_CLAUSE_WORDS",
        flag="--first-clause-words",
        group="text to speech (Piper)",
        help="the first piece of a reply may end at , ; : once it has this many words",
    )
    context_timeout_s: float = setting(
        4.0,
        env="PIPELINE_CONTEXT_TIMEOUT",
        flag="--context-timeout",
        group="text to speech (Piper)",
        help="seconds the vision context (e.g. a camera snapshot) may add before the LLM starts",
    )
    """Vision answers at once for questions that need no picture; a snapshot takes seconds."""
    pause_llm_for_first_tts: bool = True
    """Hold the LLM between tokens while the first piece is synthesized (first audio first)."""


@dataclass(slots=True)
class RequestInfo:
    """Who asked: fairness key, conversation memory key and ids for logs/metrics."""

    device_id: str
    request_id: str
    conversation_id: str | None = None
    language: str | None = None

    @property
    def conversation(self) -> str:
        return self.conversation_id or self.device_id


@dataclass(slots=True)
class TranscriptEvent:
    text: str
    timings: dict[str, float] = field(default_factory=dict)
    """Stage timings so far (`stt_ms`)."""


@dataclass(slots=True)
class AudioEvent:
    pcm: bytes
    """int16 mono PCM at the requested rate: one sentence (or first clause)."""
    text: str


@dataclass(slots=True)
class DoneEvent:
    summary: ReplySummary


PipelineEvent = TranscriptEvent | AudioEvent | DoneEvent


@dataclass(slots=True)
class StageClock:
    """Stage durations of one request, in milliseconds."""

    timings: dict[str, float] = field(default_factory=dict)

    def since(self, name: str, started: float) -> None:
        self.timings.setdefault(name, round((time.perf_counter() - started) * 1e3, 1))


class Pipeline:
    """The STT -> LLM -> TTS pipeline over loaded engines."""

    def __init__(
        self,
        engines: Engines,
        settings: PipelineSettings | None = None,
        memory: ConversationMemory | None = None,
        context_provider: ContextProvider | None = None,
    ) -> None:
        self.engines = engines
        self.settings = settings or PipelineSettings()
        llm_settings = engines.llm.settings
        self.memory = memory or ConversationMemory(
            llm_settings.history_turns, llm_settings.history_ttl_s, llm_settings.max_conversations
        )
        self.context_provider = context_provider
        self.facts: FactsProvider = lambda _device_id: local_facts()
        """Replaced by the conversation router, which knows device names and areas."""

    @property
    def tts_rate(self) -> int:
        return self.engines.tts.sample_rate

    async def transcribe(
        self,
        pcm: bytes,
        rate: int,
        info: RequestInfo,
        cancel: threading.Event | None = None,
    ) -> str:
        """Text of an int16 utterance at `rate` ('' for silence/noise)."""
        stt = self.engines.stt

        def job() -> str:
            return stt.transcribe(pcm16_to_stt(pcm, rate), info.language)

        return await self.engines.stt_runner.run(info.device_id, job, cancel=cancel)

    async def synthesize(
        self, text: str, rate: int, info: RequestInfo, cancel: threading.Event | None = None
    ) -> bytes:
        """One sentence of speech as int16 PCM at `rate`."""
        tts = self.engines.tts
        return await self.engines.tts_runner.run(
            info.device_id, lambda: tts.synthesize(text, rate), cancel=cancel
        )

    async def reply_tokens(
        self,
        text: str,
        info: RequestInfo,
        cancel: threading.Event | None = None,
        gate: threading.Event | None = None,
    ) -> AsyncIterator[str]:
        """The LLM's reply to `text` as streamed pieces (history + optional context)."""
        context = await self._context(info.device_id, text)
        llm = self.engines.llm
        # Facts are a system message (a small model follows them there, in the user turn they
        # derail it) placed after the history: the minute changing does not break the cached
        # prefix of system prompt and past turns (kv_state.py).
        messages = build_messages(
            llm.settings.system_prompt,
            self.memory.history(info.conversation),
            text,
            context,
            facts=self.facts(info.device_id),
        )
        stream = self.engines.llm_runner.stream(
            info.device_id,
            lambda: llm.stream(messages, cancel, gate=gate, conversation=info.conversation),
            cancel=cancel,
        )
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for piece in stream:
                yield piece

    async def complete(
        self, text: str, info: RequestInfo, cancel: threading.Event | None = None
    ) -> str:
        """Whole LLM reply, remembered in the conversation (Wyoming 'handle')."""
        parts = [piece async for piece in self.reply_tokens(text, info, cancel)]
        reply = "".join(parts).strip()
        self.remember(info, text, reply)
        return reply

    def remember(self, info: RequestInfo, transcript: str, reply: str) -> None:
        """Commit a delivered exchange to the conversation memory."""
        if transcript and reply:
            self.memory.add(info.conversation, transcript, reply)

    async def speak(
        self, text: str, rate: int, info: RequestInfo, cancel: threading.Event | None = None
    ) -> AsyncIterator[AudioEvent]:
        """Text -> speech sentence by sentence (announcements, Wyoming Synthesize)."""
        splitter = SentenceSplitter(self.settings.first_clause_words)
        for sentence in [*splitter.feed(text), *splitter.flush()]:
            if cancel is not None and cancel.is_set():
                return
            yield AudioEvent(await self.synthesize(sentence, rate, info, cancel), sentence)

    async def respond(
        self,
        transcript: str,
        rate: int,
        info: RequestInfo,
        cancel: threading.Event,
        clock: StageClock | None = None,
    ) -> AsyncIterator[AudioEvent | DoneEvent]:
        """LLM reply to `transcript` spoken as it streams; ends with a DoneEvent."""
        clock = clock or StageClock()
        splitter = SentenceSplitter(self.settings.first_clause_words)
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        reply_parts: list[str] = []
        gate = threading.Event()
        gate.set()

        async def produce() -> None:
            started = time.perf_counter()
            try:
                async for piece in self.reply_tokens(transcript, info, cancel, gate):
                    clock.since("llm_first_token_ms", started)
                    reply_parts.append(piece)
                    for sentence in splitter.feed(piece):
                        sentences.put_nowait(sentence)
                for sentence in splitter.flush():
                    sentences.put_nowait(sentence)
                clock.since("llm_ms", started)
            finally:
                sentences.put_nowait(None)

        producer = asyncio.create_task(produce(), name=f"llm {info.request_id}")
        try:
            while (sentence := await sentences.get()) is not None:
                if cancel.is_set():
                    break
                started = time.perf_counter()
                if (
                    self.settings.pause_llm_for_first_tts
                    and "tts_first_chunk_ms" not in clock.timings
                ):
                    gate.clear()
                try:
                    pcm = await self.synthesize(sentence, rate, info, cancel)
                finally:
                    gate.set()
                clock.since("tts_first_chunk_ms", started)
                yield AudioEvent(pcm, sentence)
            if not cancel.is_set():
                await producer
        finally:
            gate.set()
            # a cancelled request's LLM job may end in an error: read it here (DEBUG), while
            # our own cancellation, if that is why we stop, still propagates
            await cancel_and_wait([producer], logger=_LOGGER, log=False)
            if not producer.cancelled() and producer.exception() is not None:
                _LOGGER.debug("%s: LLM job ended: %r", info.request_id, producer.exception())
        status = "cancelled" if cancel.is_set() else "ok"
        reply = "".join(reply_parts).strip()
        yield DoneEvent(ReplySummary(status, transcript, reply, dict(clock.timings)))

    async def run(
        self,
        pcm: bytes,
        rate: int,
        info: RequestInfo,
        cancel: threading.Event,
        transcript: Awaitable[str] | None = None,
    ) -> AsyncIterator[PipelineEvent]:
        """A whole utterance: transcript event, reply audio events, then a DoneEvent.

        `transcript` may be an already started transcription of the same audio
        (speculative STT); it is awaited instead of transcribing again.
        """
        clock = StageClock()
        started = time.perf_counter()
        text = await (transcript or self.transcribe(pcm, rate, info, cancel))
        clock.since("stt_ms", started)
        yield TranscriptEvent(text, dict(clock.timings))
        if cancel.is_set():
            yield DoneEvent(ReplySummary("cancelled", text, "", dict(clock.timings)))
            return
        if not text:
            yield DoneEvent(ReplySummary("empty", "", "", dict(clock.timings)))
            return
        async for event in self.respond(text, rate, info, cancel, clock):
            yield event

    async def _context(self, device_id: str, text: str) -> str | None:
        if self.context_provider is None:
            return None
        try:
            async with asyncio.timeout(self.settings.context_timeout_s):
                return await self.context_provider(device_id, text)
        except TimeoutError:
            _LOGGER.warning("context provider timed out for %s", device_id)
        except Exception:
            _LOGGER.exception("context provider failed for %s", device_id)
        return None
