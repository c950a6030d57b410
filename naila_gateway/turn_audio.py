"""Smart Turn v3.2 in the gateway: an audio-only end-of-turn verdict right at each pause.

`AUDIO_END_OF_TURN=smart_turn`. The AI server's verdicts wait for its speculative transcript
(`SPECULATION_PAUSE`, then STT), a median 782 ms after the last spoken sample in
bench/end_of_turn.py; the gateway has the audio frame by frame and runs the model itself
once `AUDIO_END_OF_TURN_PROBE` of a pause has passed. The model and its reader are the AI
server's (`wyoming_bridge/turn_detector.py`: the ONNX file inside the `pipecat-ai` wheel,
installed with --no-deps, read with ONNX Runtime on one thread); the gateway runs it in an
executor of its own (one thread: runs of several devices queue, the event loop never waits).
A model that fails at run time is reported once and the fixed hang-over takes over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from naila_gateway.end_of_turn import EndOfTurnSettings, TurnGate
from naila_gateway.pcm import FRAME_SECONDS, WEBRTC_RATE
from naila_protocol.tasks import TaskSet

_LOGGER = logging.getLogger(__name__)

MODEL_RATE = 16000
MODEL_SECONDS = 8.0
"""Smart Turn reads the last 8 s of 16 kHz audio."""
_MODEL_FRAMES = round(MODEL_SECONDS / FRAME_SECONDS)


class TurnModel(Protocol):
    def probability(self, samples: np.ndarray) -> float:
        """P(turn finished) for float32 16 kHz audio ending at the pause (blocking)."""
        ...


class SmartTurnJudge:
    """One Smart Turn session per gateway, shared by every device; one warning if it fails."""

    def __init__(self, model: TurnModel) -> None:
        self.model = model
        self.failed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smart-turn")

    @classmethod
    def load(cls, settings: EndOfTurnSettings) -> SmartTurnJudge:
        """Blocking (run it in a thread); ModelNotFoundError names the package to install."""
        from wyoming_bridge.models import ModelNotFoundError  # noqa: PLC0415
        from wyoming_bridge.turn_detector import (  # noqa: PLC0415  (onnxruntime on use only)
            SMART_TURN_PACKAGE,
            SMART_TURN_VERSION,
            SmartTurnModel,
            smart_turn_file,
        )

        try:
            import onnxruntime  # noqa: F401, PLC0415
        except ImportError as err:
            raise ModelNotFoundError(
                "AUDIO_END_OF_TURN=smart_turn needs onnxruntime and the Smart Turn model: pip "
                f"install onnxruntime && pip install --no-deps "
                f"{SMART_TURN_PACKAGE}=={SMART_TURN_VERSION}"
            ) from err
        return cls(SmartTurnModel(smart_turn_file(settings.model)))

    async def probability(
        self, audio: np.ndarray, wanted: Callable[[], bool] = lambda: True
    ) -> float | None:
        """P(finished) for 48 kHz int16 audio ending at the pause; None once the model failed,
        or when `wanted()` says no by the time the model is free (the speaker went on)."""
        if self.failed:
            return None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._run, audio, wanted)
        except Exception as err:
            if not self.failed:
                self.failed = True
                _LOGGER.warning(
                    "Smart Turn failed (%s: %s): turns end on the fixed hang-over from now on",
                    type(err).__name__,
                    err,
                )
            return None

    def _run(self, audio: np.ndarray, wanted: Callable[[], bool]) -> float | None:
        if not wanted():
            return None  # a stale run queued behind another device's or an earlier pause's
        import soxr  # noqa: PLC0415

        samples = soxr.resample(audio.astype(np.float32) / 32768.0, WEBRTC_RATE, MODEL_RATE)
        return self.model.probability(np.ascontiguousarray(samples, dtype=np.float32))

    def close(self) -> None:
        """No new runs; a run in progress finishes on its thread (≈ 0.1 s)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class AudioTurn:
    """One device's Smart Turn runs: one per pause, owned here, answers into its TurnGate."""

    def __init__(self, judge: SmartTurnJudge | None, gate: TurnGate) -> None:
        self.judge = judge
        self.gate = gate
        self._tasks = TaskSet(_LOGGER)

    def after_frame(self, frames: list[np.ndarray]) -> None:
        """After the gate saw a frame of an active utterance (`frames`: its 48 kHz audio)."""
        if self.judge is None:
            return
        pause = self.gate.probe_due(len(frames))
        if pause is not None:
            audio = np.concatenate(frames[-_MODEL_FRAMES:])
            self._tasks.spawn(self._judge(audio, pause), name="smart turn")

    async def _judge(self, audio: np.ndarray, pause_ms: int) -> None:
        assert self.judge is not None
        started = time.perf_counter()
        probability = await self.judge.probability(audio, lambda: self.gate.pausing(pause_ms))
        if probability is None and not self.judge.failed:
            return  # speech resumed before the model was free: nothing to say
        _LOGGER.debug(
            "Smart Turn p=%s for the pause at %d ms (%.0f ms)",
            probability,
            pause_ms,
            (time.perf_counter() - started) * 1000,
        )
        self.gate.on_probability(pause_ms, probability)

    async def close(self) -> None:
        await self._tasks.close()
