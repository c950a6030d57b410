"""Wyoming event handler: asr (Transcribe/Audio* -> Transcript), tts (Synthesize,
SynthesizeStart/Chunk/Stop -> audio) and handle (Transcript -> Handled).

Inference runs on the engine worker threads; this handler only awaits it.
"""

from __future__ import annotations

import itertools
import logging
import threading

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from .pipeline import Pipeline, RequestInfo
from .sentences import SentenceSplitter

_LOGGER = logging.getLogger(__name__)
_IDS = itertools.count(1)
SAMPLES_PER_CHUNK = 1024


class NailaEventHandler(AsyncEventHandler):
    """One Wyoming client connection (Home Assistant opens one per operation)."""

    def __init__(self, info: Info, pipeline: Pipeline, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.info = info
        self.pipeline = pipeline
        self.client_id = f"wyoming-{next(_IDS)}"
        self._language: str | None = None
        self._audio = bytearray()
        self._audio_rate = 16000
        self._converter: AudioChunkConverter | None = None
        self._splitter: SentenceSplitter | None = None
        self._stream_started = False
        self._cancel = threading.Event()

    def _request(self, conversation_id: str | None = None) -> RequestInfo:
        return RequestInfo(self.client_id, self.client_id, conversation_id, self._language)

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.info.event())
            return True
        if Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
            return True
        try:
            await self._dispatch(event)
        except Exception as err:
            _LOGGER.exception("%s: %s failed", self.client_id, event.type)
            await self.write_event(Error(text=str(err), code=err.__class__.__name__).event())
        return True

    async def disconnect(self) -> None:
        self._cancel.set()

    async def _dispatch(self, event: Event) -> None:
        if Transcribe.is_type(event.type):
            self._language = Transcribe.from_event(event).language
        elif AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            self._audio.clear()
            self._audio_rate = start.rate
            self._converter = AudioChunkConverter(rate=start.rate, width=2, channels=1)
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            if self._converter is None:
                self._audio_rate = chunk.rate
                self._converter = AudioChunkConverter(rate=chunk.rate, width=2, channels=1)
            self._audio += self._converter.convert(chunk).audio
        elif AudioStop.is_type(event.type):
            await self._transcribe()
        elif Transcript.is_type(event.type):
            await self._handle(Transcript.from_event(event))
        elif Synthesize.is_type(event.type):
            if not self._splitter:  # inside a stream Synthesize is only sent for compatibility
                await self._synthesize(Synthesize.from_event(event).text)
        elif SynthesizeStart.is_type(event.type):
            self._splitter = SentenceSplitter(self.pipeline.settings.first_clause_words)
            self._stream_started = False
        elif SynthesizeChunk.is_type(event.type):
            if self._splitter is None:
                raise ValueError("synthesize-chunk without synthesize-start")
            for sentence in self._splitter.feed(SynthesizeChunk.from_event(event).text):
                await self._speak_sentence(sentence)
        elif SynthesizeStop.is_type(event.type):
            if self._splitter is None:
                raise ValueError("synthesize-stop without synthesize-start")
            for sentence in self._splitter.flush():
                await self._speak_sentence(sentence)
            self._splitter = None
            if self._stream_started:
                await self.write_event(AudioStop().event())
            await self.write_event(SynthesizeStopped().event())
        else:
            _LOGGER.debug("%s: ignoring %s", self.client_id, event.type)

    async def _transcribe(self) -> None:
        pcm = bytes(self._audio)
        self._audio.clear()
        self._converter = None
        text = await self.pipeline.transcribe(pcm, self._audio_rate, self._request(), self._cancel)
        _LOGGER.info("%s: transcript %r", self.client_id, text)
        await self.write_event(Transcript(text=text, language=self._language).event())

    async def _handle(self, transcript: Transcript) -> None:
        context = transcript.context or {}
        conversation_id = context.get("conversation_id")
        info = self._request(str(conversation_id) if conversation_id else None)
        reply = await self.pipeline.complete(transcript.text, info, self._cancel)
        _LOGGER.info("%s: handled %r -> %r", self.client_id, transcript.text, reply)
        await self.write_event(Handled(text=reply, context=transcript.context).event())

    async def _synthesize(self, text: str) -> None:
        rate = self.pipeline.tts_rate
        await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        async for event in self.pipeline.speak(text, rate, self._request(), self._cancel):
            await self._write_audio(event.pcm, rate)
        await self.write_event(AudioStop().event())

    async def _speak_sentence(self, sentence: str) -> None:
        rate = self.pipeline.tts_rate
        pcm = await self.pipeline.synthesize(sentence, rate, self._request(), self._cancel)
        if not self._stream_started:
            await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
            self._stream_started = True
        await self._write_audio(pcm, rate)

    async def _write_audio(self, pcm: bytes, rate: int) -> None:
        step = SAMPLES_PER_CHUNK * 2
        for offset in range(0, len(pcm), step):
            chunk = AudioChunk(rate=rate, width=2, channels=1, audio=pcm[offset : offset + step])
            await self.write_event(chunk.event())
