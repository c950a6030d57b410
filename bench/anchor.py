"""Home Assistant's Assist pipeline shape, the baseline for NAILA's first-audio benches.

wyoming-faster-whisper (batch transcript on AudioStop) -> the same LLM's full reply ->
wyoming-piper on the full text, each over the Wyoming protocol the way HA's Assist
pipeline talks to them. `AnchorPipeline.measure()` is the importable measurement:

    async with AnchorPipeline(AnchorConfig.packaged()) as anchor:
        await anchor.warm_up(pcm16k)
        timing = await anchor.measure(pcm16k)   # AnchorTiming, server_ms = AudioStop -> first TTS chunk
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from bench.anchor_llm import AnchorLlm
from naila_demo.children import ChildProcess, free_port
from naila_demo.service import AsyncService
from wyoming_bridge.llm import LlmSettings
from wyoming_bridge.models import resolve_models
from wyoming_bridge.stt import SttSettings

_LOGGER = logging.getLogger(__name__)

HA_VAD_SILENCE_S = 0.7
"""HA's default end-of-speech silence (VadSensitivity.DEFAULT in assist_pipeline/vad.py)."""
STT_RATE = 16000
STT_CHUNK_SAMPLES = 1024
PIPER_VOICE = "en_US-joe-medium"
EVENT_TIMEOUT_S = 120.0
START_TIMEOUT_S = 180.0


@dataclass(frozen=True, slots=True)
class AnchorConfig:
    """Model files and engine settings of the anchor pipeline."""

    whisper_model_dir: Path
    piper_model: Path
    piper_config: Path
    llm_model: Path
    llm: LlmSettings
    """NAILA's own LLM settings (system prompt, max tokens, sampling, threads)."""
    language: str = "en"
    compute_type: str = "int8"
    beam_size: int = field(default_factory=lambda: SttSettings().beam_size)
    """NAILA's default; 0 = wyoming-faster-whisper's own default (5 on x86, 1 on ARM)."""
    cpu_threads: int = field(default_factory=lambda: SttSettings().cpu_threads)
    """NAILA's own (0 = CTranslate2's default, 4); wyoming-faster-whisper's default is also 4."""
    python: str = sys.executable
    """Interpreter that has wyoming-faster-whisper and wyoming-piper installed."""

    @classmethod
    def packaged(cls, llm: LlmSettings | None = None, **overrides: Any) -> AnchorConfig:
        """NAILA's default models (tiny.en, SmolLM2, Piper joe-medium) and LLM settings."""
        models = resolve_models()
        return cls(
            whisper_model_dir=models.whisper_dir,
            piper_model=models.piper_model,
            piper_config=models.piper_config,
            llm_model=models.llm_file,
            llm=llm or LlmSettings(),
            **overrides,
        )


@dataclass(slots=True)
class AnchorTiming:
    """One anchor turn; all times in ms from the AudioStop sent to the STT server."""

    transcript: str
    reply: str
    stt_ms: float
    llm_ms: float
    """LLM full reply time alone."""
    server_ms: float
    """AudioStop -> first TTS AudioChunk: STT + full LLM reply + TTS first chunk."""
    tts_done_ms: float
    """AudioStop -> TTS AudioStop (HA 2025.4's wyoming TTS entity returns only here)."""

    @property
    def end_to_end_ms(self) -> float:
        """What a user feels: HA's end-of-speech silence plus the server time."""
        return HA_VAD_SILENCE_S * 1000.0 + self.server_ms


async def _read_until(client: AsyncTcpClient, wanted: Callable[[Event], bool], what: str) -> Event:
    """Read events until `wanted` accepts one; a Wyoming Error or a closed stream raises."""
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout=EVENT_TIMEOUT_S)
        if event is None:
            raise ConnectionError(f"server closed the connection while waiting for {what}")
        if Error.is_type(event.type):
            raise RuntimeError(
                f"server error while waiting for {what}: {Error.from_event(event).text}"
            )
        if wanted(event):
            return event


async def wyoming_describe(host: str, port: int) -> Info:
    """Describe -> Info; used as the readiness probe."""
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Describe().event())
        event = await _read_until(client, lambda e: Info.is_type(e.type), "info")
        return Info.from_event(event)


class AnchorPipeline(AsyncService):
    """Starts wyoming-faster-whisper and wyoming-piper on free ports, loads the LLM once."""

    def __init__(
        self, config: AnchorConfig, host: str = "127.0.0.1", *, with_llm: bool = True
    ) -> None:
        self.config = config
        self.host = host
        self.with_llm = with_llm
        """False: STT and TTS only (the caller brings its own conversation agent)."""
        self.stt_port = 0
        self.tts_port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._servers: list[ChildProcess] = []
        self._llm: AnchorLlm | None = None

    async def start(self) -> None:
        cfg = self.config
        self._tmp = tempfile.TemporaryDirectory(prefix="naila-anchor-")
        tmp = Path(self._tmp.name)
        # wyoming-piper finds a voice as DATA_DIR/<voice>.onnx(.json): link the packaged files.
        voice_dir = tmp / "piper"
        voice_dir.mkdir()
        (voice_dir / f"{PIPER_VOICE}.onnx").symlink_to(cfg.piper_model)
        (voice_dir / f"{PIPER_VOICE}.onnx.json").symlink_to(cfg.piper_config)
        # --data-dir is required by wyoming-faster-whisper even when --model is a directory
        # (faster_whisper.WhisperModel loads a directory path as is, no hub lookup).
        whisper_dir = tmp / "whisper"
        whisper_dir.mkdir()

        self.stt_port, self.tts_port = free_port(self.host), free_port(self.host)
        stt = ChildProcess(
            "wyoming-faster-whisper",
            [
                cfg.python, "-m", "wyoming_faster_whisper",
                "--uri", f"tcp://{self.host}:{self.stt_port}",
                "--model", str(cfg.whisper_model_dir),
                "--data-dir", str(whisper_dir),
                "--stt-library", "faster-whisper",
                "--language", cfg.language,
                "--compute-type", cfg.compute_type,
                "--beam-size", str(cfg.beam_size),
                "--cpu-threads", str(cfg.cpu_threads),
                "--local-files-only",
            ],
            log_path=tmp / "stt.log",
            env={"HF_HUB_OFFLINE": "1"},
            stop_signals=(signal.SIGTERM,),
        )  # fmt: skip
        tts = ChildProcess(
            "wyoming-piper",
            [
                cfg.python, "-m", "wyoming_piper",
                "--uri", f"tcp://{self.host}:{self.tts_port}",
                "--voice", PIPER_VOICE,
                "--data-dir", str(voice_dir),
                "--local-files-only",
            ],
            log_path=tmp / "tts.log",
            env={"HF_HUB_OFFLINE": "1"},
            stop_signals=(signal.SIGTERM,),
        )  # fmt: skip
        self._servers = [stt, tts]
        for server in self._servers:
            await server.start()
        if self.with_llm:
            self._llm = AnchorLlm(cfg.llm_model, cfg.llm, cfg.python)
            await self._llm.start()
        await stt.wait_ready(lambda: self._probe(self.stt_port), START_TIMEOUT_S)
        await tts.wait_ready(lambda: self._probe(self.tts_port), START_TIMEOUT_S)

    async def _probe(self, port: int) -> bool:
        info = await wyoming_describe(self.host, port)
        return bool(info.asr or info.tts)

    async def stop(self) -> None:
        for server in self._servers:
            await server.stop()
        self._servers = []
        if self._llm is not None:
            await self._llm.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self._llm = None

    def server_pids(self) -> list[int]:
        pids = [server.pid for server in self._servers]
        return [pid for pid in [*pids, self._llm.pid if self._llm else None] if pid is not None]

    async def transcribe(self, pcm16k: bytes) -> tuple[str, float]:
        """HA's wyoming STT: Transcribe, AudioStart, chunks, AudioStop -> Transcript.

        Returns the text and the perf_counter time right after AudioStop was written.
        """
        async with AsyncTcpClient(self.host, self.stt_port) as client:
            await client.write_event(Transcribe(language=self.config.language).event())
            await client.write_event(AudioStart(rate=STT_RATE, width=2, channels=1).event())
            step = STT_CHUNK_SAMPLES * 2
            for offset in range(0, len(pcm16k), step):
                chunk = AudioChunk(
                    rate=STT_RATE, width=2, channels=1, audio=pcm16k[offset : offset + step]
                )
                await client.write_event(chunk.event())
            await client.write_event(AudioStop().event())
            t_stop = time.perf_counter()
            event = await _read_until(client, lambda e: Transcript.is_type(e.type), "transcript")
            return Transcript.from_event(event).text.strip(), t_stop

    async def reply(self, text: str) -> str:
        """The LLM's full reply (HA's conversation agent answers before TTS starts)."""
        if self._llm is None:
            raise RuntimeError("AnchorPipeline is not started")
        return await self._llm.reply(text)

    async def synthesize(self, text: str) -> tuple[float, float]:
        """HA's wyoming TTS: Synthesize(full text) -> perf_counter at first AudioChunk and AudioStop."""
        async with AsyncTcpClient(self.host, self.tts_port) as client:
            await client.write_event(Synthesize(text=text).event())
            await _read_until(client, lambda e: AudioChunk.is_type(e.type), "first audio chunk")
            t_first = time.perf_counter()
            await _read_until(client, lambda e: AudioStop.is_type(e.type), "audio stop")
            return t_first, time.perf_counter()

    async def measure(self, pcm16k: bytes) -> AnchorTiming:
        """One anchor turn on 16 kHz int16 mono speech (append HA's trailing silence yourself)."""
        transcript, t_stop = await self.transcribe(pcm16k)
        t_stt = time.perf_counter()
        reply = await self.reply(transcript) if transcript else ""
        t_llm = time.perf_counter()
        if not reply:
            raise RuntimeError(f"anchor produced no reply (transcript {transcript!r})")
        t_first, t_done = await self.synthesize(reply)
        return AnchorTiming(
            transcript=transcript,
            reply=reply,
            stt_ms=(t_stt - t_stop) * 1000.0,
            llm_ms=(t_llm - t_stt) * 1000.0,
            server_ms=(t_first - t_stop) * 1000.0,
            tts_done_ms=(t_done - t_stop) * 1000.0,
        )

    async def warm_up(self, pcm16k: bytes, turns: int = 2) -> None:
        """Run whole turns so every engine has loaded and touched its weights."""
        for _ in range(turns):
            await self.measure(pcm16k)
