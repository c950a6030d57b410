"""Child processes (AI server, gateway, benches' servers): start, wait until ready, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
PROBE_TIMEOUT_S = 5.0
GENTLE_STOP = (signal.SIGINT, signal.SIGTERM)
"""Both NAILA servers shut down cleanly on SIGINT; SIGTERM next, SIGKILL last."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for children that need one on their command line)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def tcp_accepts(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port (OSError otherwise)."""
    _reader, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn giving the child SIGTERM if its parent dies without cleaning up (Linux).

    libc is loaded here, in the parent: between fork and exec the child only makes one call.
    """
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


class ChildProcess:
    """One child (`argv`) in its own process group, with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        stop_signals: Sequence[signal.Signals] = GENTLE_STOP,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env or {})
        self.log_path = log_path
        self.stop_signals = tuple(stop_signals)
        """Sent in turn to the child's process group by stop(); SIGKILL follows them."""
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    async def start(self) -> None:
        _LOGGER.info("starting %s: %s", self.name, " ".join(self.argv))
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the parent only; it stops children in order
                preexec_fn=_die_with_parent_hook(),
            )
        _LOGGER.info("%s started (pid %d), log: %s", self.name, self._proc.pid, self.log_path)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _raise_if_exited(self) -> None:
        if self.returncode is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.returncode}:\n{self.log_tail()}"
            )

    async def wait_ready(
        self, probe: Callable[[], Awaitable[bool]], within_s: float, what: str = "ready"
    ) -> None:
        """Call `probe` until it returns True; fail early if the child exits."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was not started")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            self._raise_if_exited()
            with contextlib.suppress(OSError, TimeoutError):
                if await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT_S):
                    return
            await asyncio.sleep(0.2)
        self._raise_if_exited()
        raise TimeoutError(f"{self.name} not {what} within {within_s:.0f} s:\n{self.log_tail()}")

    async def wait_for_port(self, host: str, port: int, within_s: float) -> None:
        """Wait until `host:port` accepts TCP connections; fail early if the child exits."""
        await self.wait_ready(
            lambda: tcp_accepts(host, port), within_s, f"listening on {host}:{port}"
        )

    async def wait_exit(self) -> int:
        """Wait until the child exits on its own (used to notice crashes)."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was not started")
        return await self._proc.wait()

    async def stop(self, grace_s: float = 8.0) -> None:
        """Each of `stop_signals` to the process group (grace_s for the first, 3 s for the
        next), then SIGKILL; safe to call twice."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        waits = [grace_s] + [3.0] * (len(self.stop_signals) - 1)
        steps: list[tuple[signal.Signals, float | None]] = [
            *zip(self.stop_signals, waits, strict=True),
            (signal.SIGKILL, None),
        ]
        for sig, wait_s in steps:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                await asyncio.wait_for(proc.wait(), wait_s)
                break
            except TimeoutError:
                _LOGGER.warning("%s still running %.0f s after %s", self.name, wait_s, sig.name)
        _LOGGER.info("stopped %s (exit code %s)", self.name, proc.returncode)
