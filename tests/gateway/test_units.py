"""Pure parts of the gateway: utterance detection, output queue, Opus bitrate, config and CLI."""

from __future__ import annotations

import asyncio
import time

import av
import numpy as np
import pytest

from naila_gateway.audio_out import OutputQueue, PacedOutputTrack
from naila_gateway.cli import config_from_args
from naila_gateway.config import GatewayConfig
from naila_gateway.opus import OpusEncoder
from naila_gateway.pcm import FRAME_SAMPLES, to_mono
from naila_gateway.utterance import UtteranceDetector, UtteranceEvent
from naila_gateway.vad import EnergyVad, SileroVad
from naila_sim import speak_text, tone

SILENT = np.zeros(FRAME_SAMPLES, dtype=np.int16)


def detector(**overrides: int) -> UtteranceDetector:
    settings = {"silence_frames": 3, "preroll_frames": 2, "min_speech_frames": 2, "max_frames": 50}
    return UtteranceDetector(**(settings | overrides))


def feed(d: UtteranceDetector, pattern: str) -> list[UtteranceEvent | None]:
    return [
        d.feed(np.full(FRAME_SAMPLES, i, dtype=np.int16), c == "S") for i, c in enumerate(pattern)
    ]


def test_utterance_keeps_preroll_and_ends_after_silence() -> None:
    d = detector()
    events = feed(d, "...SS.S...")
    assert events[3] is UtteranceEvent.STARTED and events[9] is UtteranceEvent.ENDED
    frames = d.take_frames()
    assert [int(f[0]) for f in frames] == [1, 2, 3, 4, 5, 6, 7, 8, 9]  # 2 pre-roll frames first


def test_too_short_speech_is_discarded() -> None:
    assert feed(detector(), "S...")[-1] is UtteranceEvent.DISCARDED


def test_maximum_length_ends_utterance() -> None:
    events = feed(detector(max_frames=5), "SSSSSSSS")
    assert events[4] is UtteranceEvent.ENDED and events[5] is UtteranceEvent.STARTED


async def test_energy_vad_threshold() -> None:
    vad = EnergyVad(500)
    assert await vad.is_speech(tone(0.02)) and not await vad.is_speech(SILENT)


async def test_silero_vad_tells_speech_from_tone_and_silence() -> None:
    vad = SileroVad(0.5)
    speech = speak_text("Hello there, how are you doing today?")
    decisions = [
        await vad.is_speech(speech[i : i + FRAME_SAMPLES])
        for i in range(0, speech.size - FRAME_SAMPLES, FRAME_SAMPLES)
    ]
    vad.reset()
    silence = [await vad.is_speech(SILENT) for _ in range(50)]
    assert sum(decisions) > len(decisions) * 0.3 and not any(silence)


def test_output_queue_resamples_bounds_and_clears() -> None:
    queue = OutputQueue(max_frames=10)
    dropped = queue.push_pcm(np.ones(22050, dtype=np.int16) * 1000, 22050, tag="r1")  # 1 s
    assert len(queue) == 10 and dropped >= 39
    assert queue.playing_tags() == ["r1"]
    queue.clear()
    assert len(queue) == 0 and queue.pop() is None and queue.cleared_at is not None


def test_output_queue_pads_last_frame() -> None:
    queue = OutputQueue(max_frames=100)
    queue.push_pcm(np.ones(1000, dtype=np.int16), 48000)
    queue.end_of_audio()
    assert len(queue) == 2


@pytest.mark.parametrize("bitrate", [16000, 24000, 32000])
def test_opus_encoder_meets_bitrate(bitrate: int) -> None:
    encoder = OpusEncoder(bitrate)
    speech = speak_text("The quick brown fox jumps over the lazy dog.")
    packets = [
        encoder.encode(speech[i : i + FRAME_SAMPLES])
        for i in range(0, speech.size - FRAME_SAMPLES, FRAME_SAMPLES)
    ]
    sizes = [p.size for p in packets if p is not None]
    measured = sum(sizes) * 8 / (len(sizes) * 0.02)
    assert 0.6 * bitrate < measured < 1.25 * bitrate
    assert [p.pts for p in packets[:3]] == [0, 960, 1920]


def test_opus_silence_settles_into_one_reused_packet() -> None:
    encoder = OpusEncoder(24000)
    assert encoder.settled_silence() is None
    encoded = [encoder.encode(SILENT, silence=True) for _ in range(10)]
    last = encoded[-1]
    assert last is not None
    reused = encoder.settled_silence()
    assert reused is not None and bytes(reused) == bytes(last)
    assert reused.pts == last.pts + FRAME_SAMPLES  # the next frame's timestamp
    encoder.encode(tone(0.02)[:FRAME_SAMPLES])
    assert encoder.settled_silence() is None  # speech resets it


def test_env_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_HOST", "broker.lan")
    monkeypatch.setenv("AUDIO_VAD_MODE", "silero")
    monkeypatch.setenv("WEBRTC_ICE_SERVERS", "stun:a.lan:3478, turn:b.lan")
    config = config_from_args(
        ["--mqtt-port", "1884", "--silence-frames", "20", "--vad-threshold", "0.7"]
    )
    assert (config.mqtt.host, config.mqtt.port, config.silence_frames) == ("broker.lan", 1884, 20)
    assert config.vad_mode == "silero" and config.effective_vad_threshold == 0.7
    assert config.ice_servers == ["stun:a.lan:3478", "turn:b.lan"]
    assert GatewayConfig().effective_vad_threshold == 500 and GatewayConfig().ice_servers == []


def test_bad_setting_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        config_from_args(["--vad-mode", "psychic"])
    assert "AUDIO_VAD_MODE" in capsys.readouterr().err


def test_to_mono_averages_aiortc_stereo_frames() -> None:
    left = np.arange(960, dtype=np.int16) * 10
    right = -np.arange(960, dtype=np.int16) * 4
    packed = np.stack([left, right], axis=1).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(packed, format="s16", layout="stereo")
    frame.sample_rate = 48000
    mono = to_mono(frame)
    assert mono.shape == (960,) and mono.dtype == np.int16
    assert np.abs(mono.astype(int) - (left.astype(int) + right) // 2).max() <= 1


async def test_first_reply_frame_leaves_without_waiting_for_the_tick() -> None:
    queue = OutputQueue(max_frames=100)
    track = PacedOutputTrack(queue, bitrate=24000)
    delays = []
    for _ in range(5):
        for _ in range(3):
            await track.recv()  # silence on the 20 ms clock
        receiving = asyncio.create_task(track.recv())
        await asyncio.sleep(0.003)  # pacing: recv() is waiting for its 20 ms tick
        pushed = time.perf_counter()
        queue.push_pcm(tone(0.1), 48000, tag="r")
        await receiving
        delays.append(time.perf_counter() - pushed)
        assert track.voiced_frames_sent > 0
        queue.clear()
        await track.recv()
    track.stop()
    assert sorted(delays)[2] < 0.012  # not the ≈ 17 ms left of the tick


def test_listening_settings_from_env_and_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAKE_WORD", "hey_jarvis")
    config = config_from_args(["--listening-mode", "always", "--follow-up-seconds", "2"])
    assert config.listening.listening_mode == "always"
    assert (config.listening.wake_word, config.listening.follow_up_seconds) == ("hey_jarvis", 2.0)
    monkeypatch.setenv("LISTENING_MODE", "psychic")
    with pytest.raises(SystemExit):
        config_from_args([])
    assert "LISTENING_MODE" in capsys.readouterr().err


def test_end_of_turn_and_echo_settings_from_env_and_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUDIO_ECHO", "suppress")
    monkeypatch.setenv("AUDIO_END_OF_TURN_MAX_SILENCE", "2.5")
    config = config_from_args(["--end-of-turn", "semantic", "--audio-echo-onset-frames", "4"])
    assert (config.end_of_turn.mode, config.end_of_turn.max_silence_s) == ("semantic", 2.5)
    assert (config.echo.mode, config.echo.onset_frames) == ("suppress", 4)
    with pytest.raises(SystemExit):
        config_from_args(["--end-of-turn", "semantic", "--ai-server-protocol", "basic"])
    assert "AUDIO_END_OF_TURN=semantic" in capsys.readouterr().err
