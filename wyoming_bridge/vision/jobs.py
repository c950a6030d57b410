"""The vision service's tasks: queued jobs (a few at a time) and background loops, one owner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from naila_protocol.tasks import TaskSet

_LOGGER = logging.getLogger(__name__)


class JobPool:
    """Owns every vision task; `close()` cancels and awaits them all."""

    def __init__(self, parallel: int = 4) -> None:
        self._work = asyncio.Semaphore(parallel)
        self._tasks = TaskSet(_LOGGER)
        self._queued = 0

    @property
    def queued(self) -> int:
        """Jobs started with `spawn` that have not finished (running or waiting their turn)."""
        return self._queued

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a job with at most `parallel` at a time (inference itself is serialised anyway)."""
        self._queued += 1

        async def guarded() -> None:
            try:
                async with self._work:
                    await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("vision task failed")
            finally:
                self._queued -= 1

        self.spawn_background(guarded())

    def spawn_background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a task outside the job limit (retention, busy replies, camera frames); a
        failure is logged when it ends."""
        self._tasks.spawn(coro, name="vision")

    async def close(self) -> None:
        """Cancel every task and wait for all of them (and for any they spawn meanwhile)."""
        await self._tasks.close()
