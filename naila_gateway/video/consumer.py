"""Consumes a camera's WebRTC video track and sends its motion frames to the AI server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import av
from aiortc.mediastreams import MediaStreamError

from naila_gateway.video.config import VideoConfig
from naila_gateway.video.gate import MotionGate, VideoStats
from naila_gateway.video.sender import FrameSink, VideoFrameSender
from naila_protocol.payloads import camera_capable
from naila_protocol.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)


class VideoTrack(Protocol):
    """What is used of aiortc's MediaStreamTrack."""

    kind: str

    async def recv(self) -> object: ...


class CameraVideoConsumer:
    """Drains a video track; analyses every (frame_skip+1)-th frame off the event loop.

    The receive loop never waits for analysis: a frame due for analysis while the previous
    one is still in the executor is dropped (frames_busy), so a slow Pi falls behind by
    skipping frames, never by queueing them. With no sink the track is only drained.
    """

    def __init__(
        self,
        track: VideoTrack,
        camera_id: str,
        sink: FrameSink | None,
        config: VideoConfig | None = None,
        *,
        executor: concurrent.futures.Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera_id = camera_id
        self.config = config or VideoConfig()
        self.stats = VideoStats()
        self._track = track
        self._sender = VideoFrameSender(sink, camera_id) if sink is not None else None
        self._gate = MotionGate(self.config, self.stats)
        self._executor = executor
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._pending: asyncio.Task[None] | None = None

    def start(self) -> CameraVideoConsumer:
        """Start draining the track (idempotent); returns self."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"video-{self.camera_id}")
        return self

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def wait_closed(self) -> None:
        """Wait until the track has ended and the last frame is handled."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Stop draining (the session closed); safe to call more than once."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task], logger=_LOGGER)
        _LOGGER.info("[%s] video stopped: %s", self.camera_id, self.stats.as_dict())

    async def _run(self) -> None:
        mode = "motion-gated" if self._sender else "drain only"
        _LOGGER.info("[%s] video track started (%s)", self.camera_id, mode)
        try:
            while True:
                try:
                    frame = await self._track.recv()
                except MediaStreamError:
                    _LOGGER.info("[%s] video track ended", self.camera_id)
                    break
                await asyncio.sleep(0)  # a backlog of queued frames must not starve the loop
                admitted = self._gate.admit()
                if self._sender is None or not admitted:
                    continue
                if not isinstance(frame, av.VideoFrame):
                    self.stats.frame_errors += 1
                    _LOGGER.warning("[%s] not a video frame: %r", self.camera_id, type(frame))
                    continue
                if self._pending is not None and not self._pending.done():
                    self.stats.frames_busy += 1
                    continue
                self._pending = asyncio.create_task(self._handle(frame))
            if self._pending is not None:  # the track ended: finish the last frame
                await self._pending
        finally:
            pending = self._pending
            if pending is not None:
                await cancel_and_wait([pending], logger=_LOGGER)

    async def _handle(self, frame: av.VideoFrame) -> None:
        assert self._sender is not None
        loop = asyncio.get_running_loop()
        now = self._clock()
        try:
            jpeg = await loop.run_in_executor(self._executor, self._gate.process, frame, now)
        except Exception:
            self.stats.frame_errors += 1
            _LOGGER.exception(
                "[%s] cannot analyse a %dx%d frame", self.camera_id, frame.width, frame.height
            )
            return
        if jpeg is None:
            return
        try:
            sent = await self._sender.send(jpeg)
        except Exception as err:
            self.stats.send_errors += 1
            _LOGGER.warning("[%s] video frame not delivered: %s", self.camera_id, err)
            return
        self.stats.frames_sent += 1
        _LOGGER.debug("[%s] sent %s (%d bytes)", self.camera_id, sent.request_id, len(jpeg))


def attach_video_track(
    track: VideoTrack,
    device_id: str,
    capabilities: Iterable[str],
    sink: FrameSink,
    config: VideoConfig | None = None,
) -> CameraVideoConsumer:
    """Start the consumer for a received video track: motion-gated for `camera` devices,
    drain-only for any other device (its frames are never queued nor sent)."""
    is_camera = camera_capable(capabilities)
    if not is_camera:
        _LOGGER.warning("[%s] video track from a device without the camera capability", device_id)
    return CameraVideoConsumer(track, device_id, sink if is_camera else None, config).start()
