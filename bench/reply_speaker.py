"""BENCH-ONLY AI-server stand-in: answers every utterance with the same recorded speech.

Not the AI server: no inference, so a bench can play real speech replies on a device (for
echo and barge-in) at once. AUDIO frames are streamed in real time, END follows; CANCEL
stops a reply between frames.
"""

from __future__ import annotations

import asyncio
import contextlib

from naila_protocol.framing import (
    Frame,
    FrameError,
    FrameKind,
    ReplySummary,
    encode_frame,
    read_frame,
)

CHUNK_SECONDS = 0.1


class ReplySpeaker:
    """`await start()`, `port`, `await stop()`; `pcm` (int16 at `rate`) is every reply."""

    def __init__(self, pcm: bytes, rate: int) -> None:
        self.pcm = pcm
        self.rate = rate
        self.port = 0
        self.cancelled: set[str] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while (frame := await read_frame(reader)) is not None:
                if frame.kind is FrameKind.CANCEL:
                    self.cancelled.add(frame.request_id)
                elif frame.kind in (FrameKind.FINAL, FrameKind.STREAM, FrameKind.SPEAK):
                    reply = asyncio.create_task(self._reply(frame, writer))
                    self._tasks.add(reply)
                    reply.add_done_callback(self._tasks.discard)
        except (FrameError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _reply(self, request: Frame, writer: asyncio.StreamWriter) -> None:
        step = int(CHUNK_SECONDS * self.rate) * 2
        rid, dev = request.request_id, request.device_id
        loop = asyncio.get_running_loop()
        start = loop.time()
        with contextlib.suppress(ConnectionError):
            for index, offset in enumerate(range(0, len(self.pcm), step)):
                if rid in self.cancelled:
                    break
                chunk = self.pcm[offset : offset + step]
                writer.write(encode_frame(Frame(dev, self.rate, rid, FrameKind.AUDIO, chunk)))
                await writer.drain()
                await asyncio.sleep(max(0.0, start + (index + 0.5) * CHUNK_SECONDS - loop.time()))
            status = "cancelled" if rid in self.cancelled else "ok"
            summary = ReplySummary(status=status, transcript="(bench)", reply="(speech)")
            writer.write(encode_frame(Frame(dev, 0, rid, FrameKind.END, summary.to_json())))
            await writer.drain()
