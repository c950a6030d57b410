"""Per-device output: a bounded queue of 20 ms frames and a track that paces them."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from functools import partial

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from naila_gateway.opus import OpusEncoder
from naila_gateway.pcm import FRAME_SAMPLES, FRAME_SECONDS, WEBRTC_RATE, Resampler, split_frames

SILENCE = np.zeros(FRAME_SAMPLES, dtype=np.int16)
MAX_CATCH_UP_SECONDS = 1.0
"""Behind the clock by more than this, the track restarts its clock instead of catching up."""


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class OutputQueue:
    """Bounded FIFO of 960-sample frames for one device; overflow is dropped and counted."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self._frames: deque[tuple[np.ndarray, str | None]] = deque()
        self._carry = np.zeros(0, dtype=np.int16)
        self._carry_tag: str | None = None
        self._resampler: Resampler | None = None
        self.dropped = 0
        self.cleared_at: float | None = None
        """perf_counter() of the last clear() (barge-in, stop)."""
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._frames)

    def push_pcm(self, samples: np.ndarray, sample_rate: int, tag: str | None = None) -> int:
        """Queue int16 mono PCM at any rate (resampled to 48 kHz); returns frames dropped."""
        if self._resampler is None or self._resampler.in_rate != sample_rate:
            self._resampler = Resampler(sample_rate, WEBRTC_RATE)
        return self._push_48k(self._resampler.process(samples), tag)

    def end_of_audio(self, tag: str | None = None) -> int:
        """Flush the resampler and pad the last partial frame with silence."""
        tail = self._resampler.flush() if self._resampler else np.zeros(0, dtype=np.int16)
        self._resampler = None
        dropped = self._push_48k(tail, tag)
        if self._carry.size:
            padded = np.concatenate((self._carry, SILENCE[: FRAME_SAMPLES - self._carry.size]))
            self._carry = np.zeros(0, dtype=np.int16)
            dropped += self._append(padded, tag)
        return dropped

    def _push_48k(self, samples: np.ndarray, tag: str | None) -> int:
        frames, self._carry = split_frames(samples, self._carry)
        return sum(self._append(frame, tag) for frame in frames)

    def _append(self, frame: np.ndarray, tag: str | None) -> int:
        if len(self._frames) >= self.max_frames:
            self.dropped += 1
            return 1
        self._frames.append((frame, tag))
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return 0

    async def wait_for_audio(self, delay: float) -> bool:
        """Sleep up to `delay` seconds, waking as soon as a frame is queued; True if one is."""
        if self._frames:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        handle = loop.call_later(delay, _resolve, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None
        return bool(self._frames)

    def playing_tags(self) -> list[str]:
        """Requests with audio still queued, in playing order."""
        return list(dict.fromkeys(tag for _, tag in self._frames if tag))

    def pop(self) -> tuple[np.ndarray, str | None] | None:
        return self._frames.popleft() if self._frames else None

    def clear(self) -> None:
        """Drop everything queued: the next frame sent is silence."""
        self._frames.clear()
        self._carry = np.zeros(0, dtype=np.int16)
        self._resampler = None
        self.cleared_at = time.perf_counter()


class PacedOutputTrack(MediaStreamTrack):
    """Sends one Opus packet per 20 ms on an absolute clock: queued audio, else silence.

    Encoding runs in the default executor, except for silence the encoder has settled on
    (OpusEncoder.settled_silence: no encode, no thread hop). `on_frame(tag)` is called for
    every frame as it leaves (tag = the request a queued frame belongs to, None for silence), so callers can
    count frames and time first audio.
    """

    kind = "audio"

    def __init__(
        self,
        queue: OutputQueue,
        *,
        bitrate: int,
        on_frame: Callable[[str | None], None] | None = None,
    ) -> None:
        super().__init__()
        self.queue = queue
        self._encoder = OpusEncoder(bitrate)
        self._on_frame = on_frame
        self._start: float | None = None
        self._index = 0
        self.frames_sent = 0
        self.voiced_frames_sent = 0
        self.late_frames = 0
        self._idle = True
        self.last_voiced_at: float | None = None
        """perf_counter() when the last queued (non-silence) frame was handed to aiortc."""
        self.last_samples: np.ndarray = SILENCE
        """The samples of the frame that left last (what the device plays: the echo reference)."""

    def stop(self) -> None:
        """End the track and free its encoder (and the encoder's native threads) at once."""
        super().stop()
        self._encoder.close()

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        deadline = self._start + self._index * FRAME_SECONDS
        if deadline > now and self._idle:
            # sending silence: the first frame of a reply goes out the moment it is queued,
            # and the 20 ms clock continues from there
            if await self.queue.wait_for_audio(deadline - now):
                self._start = time.perf_counter() - self._index * FRAME_SECONDS
        elif deadline > now:
            await asyncio.sleep(deadline - now)
        elif now - deadline > MAX_CATCH_UP_SECONDS:
            # a long stall: restart the clock; shorter ones are caught up (frames sent at once)
            self.late_frames += 1
            self._start, self._index = now, 0
        if self.readyState != "live":
            raise MediaStreamError  # stopped while waiting: the encoder is closed
        self._index += 1
        item = self.queue.pop()
        samples, tag = item if item is not None else (SILENCE, None)
        self._idle = item is None
        packet = None if item is not None else self._encoder.settled_silence()
        if packet is not None and deadline <= now:
            await asyncio.sleep(0)  # catching up: still let the loop run between frames
        elif packet is None:
            packet = await loop.run_in_executor(
                None, partial(self._encoder.encode, samples, silence=item is None)
            )
        self.frames_sent += 1
        self.last_samples = samples
        if item is not None:
            self.voiced_frames_sent += 1
            self.last_voiced_at = time.perf_counter()
        if self._on_frame is not None:
            self._on_frame(tag)
        if packet is None:  # never happens with libopus, which emits one packet per frame
            packet = av.Packet(b"")
        return packet
