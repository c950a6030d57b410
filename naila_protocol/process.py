"""Process lifecycle shared by the NAILA services (gateway, AI server)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_until_stopped(main: Coroutine[Any, Any, T]) -> T | None:
    """Run `main` on a new event loop; SIGINT or SIGTERM cancel it so its cleanup runs.

    Docker and the Home Assistant Supervisor stop add-ons with SIGTERM; without this the
    process would die without closing peer connections or publishing its offline status.
    Returns main's result, or None when it was stopped by a signal.
    """

    async def supervise() -> T | None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await main
        except asyncio.CancelledError:
            return None
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    return asyncio.run(supervise())
