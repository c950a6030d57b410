"""Process helpers for the gateway benches: a private mosquitto, CPU time of a process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from naila_demo.children import free_port

MOSQUITTO = "/usr/sbin/mosquitto"
REPO = Path(__file__).resolve().parent.parent


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.contextmanager
def mosquitto() -> Iterator[int]:
    """A mosquitto on a free 127.0.0.1 port with TCP_NODELAY; yields the port."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            "persistence false\nlog_dest none\n"
        )
        proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_port(port)
            yield port
        finally:
            stop(proc)


def start_python(
    args: Sequence[str], env: Mapping[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `python ARGS` from the repository root (its output to `log`, or discarded)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - child owns it
    try:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=out,
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[bytes], timeout: float = 8.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
