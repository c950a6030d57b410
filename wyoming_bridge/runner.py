"""One worker thread per engine with fair (round-robin per client) queues.

Inference never runs on the event loop: coroutines submit jobs here and await them.
Each client (device, Wyoming connection) has its own FIFO; the worker takes one job from
each client in turn, so one busy client cannot starve the others. Queues are bounded and
every job has a deadline. A job whose cancel event is set is skipped if it has not
started; streaming jobs also check it between items.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
_DONE = object()


class RunnerBusyError(RuntimeError):
    """The engine queue is full."""


class RunnerTimeoutError(TimeoutError):
    """The job did not finish before its deadline."""


class JobCancelledError(RuntimeError):
    """The job was cancelled before or while it ran."""


QUEUE_FAILURES = (RunnerBusyError, RunnerTimeoutError, JobCancelledError)
"""What an overloaded or stopping engine raises: one log line each, not a traceback."""


@dataclass(slots=True)
class _Job:
    client: str
    fn: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    cancel: threading.Event
    """The caller's cancel event (may be shared by several jobs of one request)."""
    deliver: Callable[[str, Any], None]
    """deliver(kind, value) with kind 'item', 'result', 'error' or 'done'; thread-safe."""
    streaming: bool = False
    abandoned: threading.Event = field(default_factory=threading.Event)
    """Set when the caller stopped waiting (timeout, task cancelled, stream closed)."""
    enqueued: float = field(default_factory=time.monotonic)

    def stopped(self) -> bool:
        return self.cancel.is_set() or self.abandoned.is_set()


class EngineRunner:
    """A single worker thread that runs jobs for one engine."""

    def __init__(self, name: str, queue_limit: int = 32, timeout_s: float = 60.0) -> None:
        self.name = name
        self.queue_limit = queue_limit
        self.timeout_s = timeout_s
        self._queues: OrderedDict[str, deque[_Job]] = OrderedDict()
        self._pending = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"engine-{name}", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Jobs waiting (not counting the one running)."""
        return self._pending

    def close(self) -> None:
        """Stop the worker after the running job; queued jobs are cancelled."""
        with self._cond:
            self._closed = True
            queued = [job for queue in self._queues.values() for job in queue]
            self._queues.clear()
            self._pending = 0
            self._cond.notify_all()
        for job in queued:
            job.deliver("error", JobCancelledError(f"{self.name} runner closed"))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    async def run(
        self,
        client: str,
        fn: Callable[[], T],
        *,
        cancel: threading.Event | None = None,
        timeout_s: float | None = None,
    ) -> T:
        """Run fn() on the worker thread and return its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        cancel = cancel or threading.Event()

        def settle(kind: str, value: Any) -> None:
            if future.done():
                return
            if kind == "result":
                future.set_result(value)
            else:
                future.set_exception(value)

        job = _Job(client, fn, loop, cancel, self._threadsafe(loop, settle))
        self._submit(job)
        try:
            async with asyncio.timeout(timeout_s or self.timeout_s):
                return await future
        except TimeoutError:
            raise RunnerTimeoutError(f"{self.name} job timed out") from None
        finally:
            job.abandoned.set()

    async def stream(
        self,
        client: str,
        fn: Callable[[], Iterator[T]],
        *,
        cancel: threading.Event | None = None,
        timeout_s: float | None = None,
    ) -> AsyncIterator[T]:
        """Run the iterator fn() on the worker thread, yielding its items as they come."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = cancel or threading.Event()

        def put(kind: str, value: Any) -> None:
            queue.put_nowait((kind, value))

        job = _Job(client, fn, loop, cancel, self._threadsafe(loop, put), streaming=True)
        self._submit(job)
        deadline = loop.time() + (timeout_s or self.timeout_s)
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise RunnerTimeoutError(f"{self.name} stream timed out")
                try:
                    async with asyncio.timeout(remaining):
                        kind, value = await queue.get()
                except TimeoutError:
                    raise RunnerTimeoutError(f"{self.name} stream timed out") from None
                if kind == "item":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            job.abandoned.set()

    @staticmethod
    def _threadsafe(
        loop: asyncio.AbstractEventLoop, callback: Callable[[str, Any], None]
    ) -> Callable[[str, Any], None]:
        def deliver(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(callback, kind, value)
            except RuntimeError:
                _LOGGER.debug("event loop closed; dropping %s", kind)

        return deliver

    def _submit(self, job: _Job) -> None:
        with self._cond:
            if self._closed:
                raise RunnerBusyError(f"{self.name} runner is closed")
            if self._pending >= self.queue_limit:
                raise RunnerBusyError(f"{self.name} queue full ({self.queue_limit} jobs)")
            self._queues.setdefault(job.client, deque()).append(job)
            self._pending += 1
            self._cond.notify()

    def _next_job(self) -> _Job:
        client, queue = self._queues.popitem(last=False)
        job = queue.popleft()
        if queue:
            self._queues[client] = queue  # back of the round-robin order
        self._pending -= 1
        return job

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._queues:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._next_job()
            if job.stopped():
                job.deliver("error", JobCancelledError("cancelled before it started"))
                continue
            waited = time.monotonic() - job.enqueued
            if waited > 0.05:
                _LOGGER.debug("%s job for %s waited %.0f ms", self.name, job.client, waited * 1e3)
            try:
                if job.streaming:
                    self._run_stream(job)
                else:
                    job.deliver("result", job.fn())
            except Exception as err:
                _LOGGER.exception("%s job for %s failed", self.name, job.client)
                job.deliver("error", err)

    @staticmethod
    def _run_stream(job: _Job) -> None:
        iterator = job.fn()
        try:
            for item in iterator:
                if job.stopped():
                    break
                job.deliver("item", item)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        job.deliver("done", None)
