"""Services stop cleanly (their cleanup runs) on SIGTERM, as the HA Supervisor sends it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SERVICE = """
import asyncio, sys
from pathlib import Path
from naila_protocol.process import run_until_stopped

async def main():
    Path(sys.argv[1]).write_text("running")
    try:
        await asyncio.sleep(60)
    finally:
        Path(sys.argv[1]).write_text("cleaned up")

run_until_stopped(main())
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_cancels_main_and_runs_its_cleanup(tmp_path: Path, signum: int) -> None:
    marker = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-c", SERVICE, str(marker)])
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signum)
    assert proc.wait(timeout=20) == 0
    assert marker.read_text() == "cleaned up"
