"""Process helpers for the gateway benches: a private mosquitto, CPU time of a process."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from naila_demo.broker import MosquittoBroker
from naila_demo.children import ChildProcess

REPO = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def mosquitto() -> AsyncIterator[int]:
    """A mosquitto on a free 127.0.0.1 port with TCP_NODELAY; yields the port."""
    async with MosquittoBroker() as broker:
        yield broker.port


def start_python(
    name: str, args: Sequence[str], log: Path, env: Mapping[str, str] | None = None
) -> ChildProcess:
    """`python ARGS` (not started yet), stopped by SIGTERM; its output goes to `log`."""
    return ChildProcess(
        name, [sys.executable, *args], log_path=log, env=env, stop_signals=(signal.SIGTERM,)
    )


@dataclass
class CpuWindow:
    """CPU seconds a process (all its threads) used between start() and stop(), over wall time."""

    pid: int
    cpu0: float = 0.0
    wall0: float = 0.0
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def _cpu(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def start(self) -> None:
        self.cpu0, self.wall0 = self._cpu(), time.monotonic()

    def stop(self) -> None:
        self.cpu_s = self._cpu() - self.cpu0
        self.wall_s = time.monotonic() - self.wall0

    @property
    def cores(self) -> float:
        """Average share of one core."""
        return self.cpu_s / self.wall_s if self.wall_s else float("nan")
