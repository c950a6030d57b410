"""Pieces without models: sentence splitter, conversation memory, fair engine runner."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.helpers import wait_until
from wyoming_bridge.memory import ConversationMemory
from wyoming_bridge.runner import (
    EngineRunner,
    JobCancelledError,
    RunnerBusyError,
    RunnerTimeoutError,
)
from wyoming_bridge.sentences import SentenceSplitter


def split_stream(text: str, splitter: SentenceSplitter, step: int = 3) -> list[str]:
    pieces: list[str] = []
    for start in range(0, len(text), step):
        pieces += splitter.feed(text[start : start + step])
    return pieces + splitter.flush()


def test_splitter_emits_first_clause_early_then_sentences() -> None:
    text = "Sure thing, the kitchen lights are on now, enjoy. Anything else? Just ask."
    pieces = split_stream(text, SentenceSplitter(first_clause_words=2))
    assert pieces == [
        "Sure thing,",
        "the kitchen lights are on now, enjoy.",
        "Anything else?",
        "Just ask.",
    ]


def test_splitter_waits_for_enough_words_and_keeps_decimals() -> None:
    pieces = split_stream("Yes, it is 3.5 degrees outside today.", SentenceSplitter(4))
    assert pieces == ["Yes, it is 3.5 degrees outside today."]


def test_splitter_drops_markup_and_empty_pieces() -> None:
    assert split_stream("**Hello** there! ... \n# ok", SentenceSplitter()) == [
        "Hello there!",
        "ok",
    ]


def test_memory_is_bounded_and_expires() -> None:
    now = [0.0]
    memory = ConversationMemory(max_turns=2, ttl_s=10, max_conversations=2, clock=lambda: now[0])
    for index in range(3):
        memory.add("kitchen", f"q{index}", f"a{index}")
    assert memory.history("kitchen") == [("q1", "a1"), ("q2", "a2")]
    memory.add("hall", "q", "a")
    memory.add("office", "q", "a")
    assert memory.history("kitchen") == []  # least recently used dropped
    now[0] = 11.0
    assert memory.history("hall") == [] and len(memory) == 0


def _block(started: threading.Event, gate: threading.Event) -> None:
    """A job that holds the runner's thread until `gate` (after saying it started)."""
    started.set()
    gate.wait()


async def test_runner_serves_clients_round_robin() -> None:
    runner = EngineRunner("test", queue_limit=10)
    started, gate = threading.Event(), threading.Event()
    order: list[str] = []
    try:
        blocker = asyncio.create_task(runner.run("busy", lambda: _block(started, gate)))
        await asyncio.to_thread(started.wait, 5)
        jobs = [
            asyncio.create_task(runner.run(client, lambda c=client, i=i: order.append(f"{c}{i}")))
            for client, i in [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1)]
        ]
        await wait_until(lambda: runner.pending == 5)
        gate.set()
        await asyncio.gather(blocker, *jobs)
        assert order == ["a1", "b1", "c1", "a2", "a3"]
    finally:
        runner.close()


async def test_runner_limits_queue_times_out_and_skips_cancelled_jobs() -> None:
    runner = EngineRunner("test", queue_limit=2, timeout_s=0.3)
    started, gate = threading.Event(), threading.Event()
    ran: list[str] = []
    try:
        blocker = asyncio.create_task(runner.run("x", lambda: _block(started, gate), timeout_s=5))
        await asyncio.to_thread(started.wait, 5)
        cancel = threading.Event()
        cancelled = asyncio.create_task(
            runner.run("y", lambda: ran.append("y"), cancel=cancel, timeout_s=5)
        )
        timed_out = asyncio.create_task(runner.run("z", lambda: ran.append("z")))
        await wait_until(lambda: runner.pending == 2)
        with pytest.raises(RunnerBusyError):
            await runner.run("w", lambda: None)
        cancel.set()
        with pytest.raises(RunnerTimeoutError):
            await timed_out
        gate.set()
        await blocker
        with pytest.raises(JobCancelledError):
            await cancelled
        assert ran == []  # neither the cancelled nor the abandoned job ran
    finally:
        runner.close()


async def test_runner_stream_runs_off_loop_and_stops_on_cancel() -> None:
    runner = EngineRunner("test")
    cancel = threading.Event()
    produced: list[int] = []
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def numbers():  # type: ignore[no-untyped-def]
        for number in range(1000):
            threads.add(threading.get_ident())
            produced.append(number)
            time.sleep(0.002)  # pacing: a slow producer
            yield number

    try:
        received = []
        async for number in runner.stream("a", numbers, cancel=cancel):
            received.append(number)
            if number == 3:
                cancel.set()
        await asyncio.sleep(0.05)  # time for a producer that ignored the cancel to go on
        assert received[:4] == [0, 1, 2, 3] and len(produced) < 10
        assert loop_thread not in threads
    finally:
        runner.close()
