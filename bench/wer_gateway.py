"""The gateway's own utterance cut (VAD, pre-roll, hang-over) applied to a decoded stream."""

from __future__ import annotations

import asyncio

import numpy as np

from naila_gateway.config import GatewayConfig
from naila_gateway.pcm import FRAME_SAMPLES, FRAME_SECONDS, WEBRTC_RATE, Resampler
from naila_gateway.utterance import UtteranceDetector, UtteranceEvent
from naila_gateway.vad import make_vad
from wyoming_bridge.audio import pcm16_to_stt


async def _cut(stream48: np.ndarray, config: GatewayConfig) -> np.ndarray | None:
    vad = make_vad(config.vad_mode, config.effective_vad_threshold)
    detector = UtteranceDetector(
        silence_frames=config.silence_frames,
        preroll_frames=config.preroll_frames,
        min_speech_frames=config.min_speech_frames,
        max_frames=int(config.max_utterance_seconds / FRAME_SECONDS),
    )
    whole = stream48.size // FRAME_SAMPLES * FRAME_SAMPLES
    for frame in stream48[:whole].reshape(-1, FRAME_SAMPLES):
        event = detector.feed(frame, await vad.is_speech(frame))
        if event is UtteranceEvent.ENDED:
            return np.concatenate(detector.take_frames())
    return None


def gateway_utterance(
    stream48: np.ndarray, config: GatewayConfig | None = None
) -> np.ndarray | None:
    """The utterance the gateway would send, as the server's 16 kHz float STT input."""
    config = config or GatewayConfig.from_env()
    frames = asyncio.run(_cut(stream48.astype(np.int16), config))
    if frames is None:
        return None
    resampler = Resampler(WEBRTC_RATE, config.sample_rate)
    pcm = np.concatenate((resampler.process(frames), resampler.flush()))
    return pcm16_to_stt(pcm.astype("<i2").tobytes(), config.sample_rate)
