"""Smoke test of the server first-audio bench: real servers, one utterance, one turn."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.server_first_audio import main

REPO = Path(__file__).resolve().parents[2]
BENCH = [sys.executable, "-m", "bench.server_first_audio"]
SERVERS = ("wyoming_bridge", "wyoming-faster-whisper", "wyoming-piper")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown --modes"):
        main(["--modes", "stream,bogus", "--turns", "1"])


@pytest.mark.slow
def test_one_turn_prints_medians_and_ratios_and_stops_every_server() -> None:
    done = subprocess.run(
        [*BENCH, "--turns", "1", "--warmup", "0", "--utterance", "what time is it",
         "--max-seconds", "120", "--log-level", "INFO"],
        check=False, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for mode in ("stream", "chunked"):
        ratio = re.search(
            rf"NAILA {mode} +server-only median (\d+) ms .* ratio NAILA/anchor ([\d.]+)", out
        )
        assert ratio and int(ratio.group(1)) > 0 and float(ratio.group(2)) > 0, out
        assert re.search(rf"NAILA {mode} +end to end \d+ ms; ratio [\d.]+", out), out
    assert re.search(r"anchor server-only median \d+ ms", out), out
    for name in SERVERS:
        assert f"stopped {name}" in done.stderr, done.stderr[-3000:]


@pytest.mark.slow
def test_sigterm_while_servers_start_stops_them() -> None:
    proc = subprocess.Popen(
        [*BENCH, "--turns", "1", "--utterance", "hello", "--log-level", "INFO"],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 120
    while "starting wyoming-piper" not in seen and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    proc.send_signal(signal.SIGTERM)
    _out, rest = proc.communicate(timeout=60)
    seen += rest
    assert proc.returncode == 130, seen[-3000:]
    for name in SERVERS:
        assert f"stopped {name}" in seen, seen[-3000:]
