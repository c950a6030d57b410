"""Owned asyncio tasks: every task has an owner that cancels and awaits it on stop.

`cancel_and_wait` never swallows the caller's own cancellation: it waits with
`asyncio.wait`, which raises CancelledError only when the waiting task itself is cancelled,
while the tasks' own ends (cancelled, or an error, which is logged) are read afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


def log_failure(
    task: asyncio.Future[Any], logger: logging.Logger = _LOGGER, level: int = logging.ERROR
) -> None:
    """Log (with its traceback) the exception a finished task ended with, if any."""
    if not task.done() or task.cancelled():
        return
    error = task.exception()
    if error is not None:
        name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
        traceback = error if level >= logging.WARNING else None  # DEBUG: one line
        logger.log(level, "task %s failed: %r", name, error, exc_info=traceback)


async def cancel_and_wait(
    tasks: Iterable[asyncio.Future[Any]],
    *,
    logger: logging.Logger = _LOGGER,
    log: bool = True,
) -> None:
    """Cancel `tasks` and wait until every one has ended; errors they ended with are logged.

    If the calling task is cancelled meanwhile, CancelledError propagates to it (the tasks
    stay cancelled). A task that ended cancelled is the expected outcome and is not reported.
    """
    pending = list(tasks)
    if not pending:
        return
    for task in pending:
        task.cancel()
    await asyncio.wait(pending)
    if log:
        for task in pending:
            log_failure(task, logger)


class TaskSet:
    """The tasks one object owns: spawned here, dropped when done, cancelled and awaited by
    `close()`; a task that fails is logged when it ends (never "exception never retrieved")."""

    def __init__(self, logger: logging.Logger = _LOGGER) -> None:
        self._logger = logger
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(
        self, coro: Coroutine[Any, Any, T], *, name: str | None = None, awaited: bool = False
    ) -> asyncio.Task[T]:
        """A new owned task. `awaited`: its result is read elsewhere too (whoever awaits it
        reports its error), so here a failure is only logged at DEBUG."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        level = logging.DEBUG if awaited else logging.ERROR
        task.add_done_callback(lambda done: self._done(done, level))
        return task

    def _done(self, task: asyncio.Task[Any], level: int) -> None:
        self._tasks.discard(task)
        log_failure(task, self._logger, level)

    async def wait(self) -> None:
        """Wait (without cancelling) until every task spawned so far, and since, has ended."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self) -> None:
        """Cancel every task and wait for all of them (and for any they spawn meanwhile)."""
        while self._tasks:
            await cancel_and_wait(list(self._tasks), logger=self._logger, log=False)
