"""Server subprocesses for benchmarks: free ports, readiness, and a guaranteed stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

LOG_TAIL_CHARS = 3000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One server started as a subprocess, its output in a log file, stopped on exit."""

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None
    ):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        _LOGGER.info("starting %s: %s", self.name, " ".join(self.argv))
        with self.log_path.open("wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **(self.env or {})},
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    async def wait_ready(self, probe: Callable[[], Awaitable[bool]], limit_s: float) -> None:
        """Call `probe` until it returns True; fail early if the process exits."""
        assert self._proc is not None, "start() first"
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self._proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, TimeoutError):
                if await asyncio.wait_for(probe(), timeout=5.0):
                    return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {limit_s:.0f} s:\n{self.log_tail()}")

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM this process (and only its own process group), then SIGKILL."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        _LOGGER.info("stopped %s (exit %s)", self.name, proc.returncode)


async def tcp_accepts(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    _reader, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
