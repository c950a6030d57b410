"""Child processes of the demo (AI server, gateway): start, wait until ready, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn giving the child SIGTERM if the demo dies without cleaning up (Linux).

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
    """One `python -m module ...` child with its output in a log file."""

    def __init__(
        self,
        name: str,
        module: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path,
    ) -> None:
        self.name = name
        self.module = module
        self.args = list(args)
        self.env = dict(env or {})
        self.log_path = log_path
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    async def start(self) -> None:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                *self.args,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops children in order
                preexec_fn=_die_with_parent_hook(),
            )
        _LOGGER.info("%s started (pid %d), log: %s", self.name, self._proc.pid, self.log_path)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_exit(self) -> int:
        """Wait until the child exits on its own (used to notice crashes)."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was not started")
        return await self._proc.wait()

    async def stop(self, grace_s: float = 8.0) -> None:
        """SIGINT (both servers shut down cleanly on it), then SIGTERM, then SIGKILL."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        for sig, wait_s in (
            (signal.SIGINT, grace_s),
            (signal.SIGTERM, 3.0),
            (signal.SIGKILL, None),
        ):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), wait_s)
                break
            except TimeoutError:
                _LOGGER.warning("%s still running %.0f s after %s", self.name, wait_s, sig.name)
        _LOGGER.info("%s stopped (exit code %s)", self.name, proc.returncode)


async def wait_for_port(host: str, port: int, child: ChildProcess, within_s: float) -> None:
    """Wait until `host:port` accepts TCP connections; fail early if the child exits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        if child.returncode is not None:
            raise RuntimeError(
                f"{child.name} exited with code {child.returncode}:\n{child.log_tail()}"
            )
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            if loop.time() > deadline:
                raise TimeoutError(
                    f"{child.name} did not listen on {host}:{port} within {within_s:.0f} s"
                ) from None
            await asyncio.sleep(0.2)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
