"""Owned tasks: cancelled and awaited on stop, failures logged, the caller's cancel kept."""

from __future__ import annotations

import asyncio
import logging

import pytest

from naila_protocol.tasks import TaskSet, cancel_and_wait


async def _forever(started: asyncio.Event, cleaned: list[str]) -> None:
    started.set()
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0)  # cleanup that itself awaits must run to its end
        cleaned.append("done")


async def test_close_cancels_and_waits_for_every_task() -> None:
    tasks = TaskSet()
    started = [asyncio.Event() for _ in range(3)]
    cleaned: list[str] = []
    spawned = [tasks.spawn(_forever(event, cleaned)) for event in started]
    for event in started:
        await event.wait()
    await tasks.close()
    assert cleaned == ["done"] * 3
    assert all(task.cancelled() for task in spawned)
    assert len(tasks) == 0


async def test_failures_are_logged_once_when_they_happen(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet()

    async def fail() -> None:
        raise ValueError("boom")

    task = tasks.spawn(fail(), name="failing job")
    await asyncio.wait([task])
    await asyncio.sleep(0)  # done callbacks run
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failures] == ["task failing job failed: ValueError('boom')"]
    await tasks.close()
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


async def test_awaited_task_failure_is_only_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tasks = TaskSet()

    async def fail() -> None:
        raise ValueError("read by its consumer")

    task = tasks.spawn(fail(), awaited=True)
    with pytest.raises(ValueError):
        await task
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("read by its consumer" in r.getMessage() for r in caplog.records)


async def test_cancel_and_wait_does_not_swallow_the_callers_cancellation() -> None:
    started = asyncio.Event()
    stubborn_started = asyncio.Event()
    release = asyncio.Event()

    async def stubborn() -> None:
        stubborn_started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await release.wait()  # slow cleanup: the stopper is still waiting on it

    child = asyncio.create_task(stubborn())
    await stubborn_started.wait()

    async def stopper() -> str:
        started.set()
        await cancel_and_wait([child])
        return "returned"

    outer = asyncio.create_task(stopper())
    await started.wait()
    await asyncio.sleep(0)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert outer.cancelled()
    release.set()
    await asyncio.wait([child])
    assert child.cancelled()


async def test_cancel_and_wait_logs_an_error_raised_while_stopping(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ready = asyncio.Event()

    async def breaks_on_cancel() -> None:
        ready.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("cleanup broke") from None

    task = asyncio.create_task(breaks_on_cancel(), name="breaker")
    await ready.wait()
    await cancel_and_wait([task])
    assert "task breaker failed: RuntimeError('cleanup broke')" in caplog.text
