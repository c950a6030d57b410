"""100 connect/disconnect cycles leave no tasks, threads, sockets, sessions or memory behind."""

from __future__ import annotations

import asyncio
import gc
import threading

import numpy as np
import psutil

from naila_gateway.audio_out import OutputQueue, PacedOutputTrack
from naila_gateway.opus import OpusEncoder
from naila_gateway.pcm import FRAME_SAMPLES, WEBRTC_RATE, Resampler
from tests.helpers import wait_for_session, wait_until

CYCLES = 100


def snapshot() -> dict[str, float]:
    process = psutil.Process()
    # native threads before collecting: ended sessions wait in reference cycles for a full
    # collection, and what they hold must not depend on it
    native_threads = process.num_threads()
    gc.collect()
    return {
        "tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
        "native_threads": native_threads,
        "fds": process.num_fds(),
        "rss_mb": process.memory_info().rss / 2**20,
    }


async def cycle(gateway, device) -> None:
    await device.set_online(True)
    await device.wait_connected()
    session = await wait_for_session(gateway, device.config.device_id)
    await device.set_online(False)
    await device.wait_event(
        "session_closed", session_id=session.session_id, since=len(device.events) - 50
    )
    await wait_until(
        lambda: device.config.device_id not in gateway.sessions and device.pc is None, 5
    )


async def test_hundred_cycles_leak_nothing(make_gateway, make_device, reply_server) -> None:
    # 110 reconnects in seconds is far past the per-device signaling limit: switch it off here
    # (tests/gateway/test_signaling_guard.py covers the limit).
    gateway = await make_gateway(
        ai_server_port=reply_server.port, metrics_interval=3600, signaling_rate=0
    )
    device = await make_device("cycler")
    await device.wait_connected()
    await device.set_online(False)
    for _ in range(10):  # warm-up: executors, codecs, caches
        await cycle(gateway, device)
    await asyncio.sleep(0.5)  # pacing: the libraries' own timers of the last session run out
    before = snapshot()

    for _ in range(CYCLES):
        await cycle(gateway, device)
    await asyncio.sleep(0.5)  # pacing: as before the first snapshot
    after = snapshot()

    print(f"before {before} after {after}")
    assert gateway.sessions == {}
    assert gateway._answer_timers == {} and gateway._reoffers == {}
    assert gateway._device_locks == {}
    assert after["tasks"] <= before["tasks"], (before, after)
    assert after["threads"] <= before["threads"] + 1, (before, after)
    assert after["native_threads"] <= before["native_threads"] + 2, (before, after)
    assert after["fds"] <= before["fds"] + 2, (before, after)
    assert after["rss_mb"] - before["rss_mb"] < 20, (before, after)


def test_resamplers_start_no_threads() -> None:
    """FFmpeg filter graphs start a thread pool each by default (cores + 1 threads)."""
    process = psutil.Process()
    before = process.num_threads()
    alive = [Resampler(WEBRTC_RATE, rate) for rate in (16000, 24000, 22050) * 8]
    for resampler in alive:
        resampler.process(np.zeros(FRAME_SAMPLES, dtype=np.int16))
        resampler.flush()
    assert process.num_threads() == before


def test_stopped_output_track_frees_its_encoder_threads() -> None:
    """PyAV's Opus encoder runs frames through an FFmpeg filter graph with a thread pool; a
    stopped track (an ended session, still in a reference cycle) must not keep it."""
    process = psutil.Process()
    gc.collect()
    gc.disable()  # nothing may depend on a collection
    try:
        before = process.num_threads()
        tracks = [PacedOutputTrack(OutputQueue(50), bitrate=24000) for _ in range(6)]
        cycles = [[track] for track in tracks]
        for track, cycle in zip(tracks, cycles, strict=True):
            cycle.append(cycle)  # held by a reference cycle, like a closed session
            track._encoder.encode(np.zeros(FRAME_SAMPLES, dtype=np.int16))
        assert process.num_threads() > before  # the pools this guards against exist
        for track in tracks:
            track.stop()
        del tracks
        assert process.num_threads() <= before
    finally:
        gc.enable()
    encoder = OpusEncoder(24000)
    encoder.close()
    assert encoder.encode(np.zeros(FRAME_SAMPLES, dtype=np.int16)) is None
