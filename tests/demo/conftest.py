"""Run `python -m naila_demo` as a user would: a subprocess whose printed lines we read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNCLEAN = re.compile(r" (ERROR|CRITICAL) |Traceback|Exception in callback|Task exception")
"""A log line no clean stop may produce."""


def unclean_lines(text: str) -> list[str]:
    """The lines of a log at ERROR or above, or from a traceback or an asyncio error."""
    return [line for line in text.splitlines() if UNCLEAN.search(line)]


@dataclass
class DemoRun:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def read_until(self, pattern: str, within_s: float) -> re.Match[str]:
        """Read printed lines until one matches `pattern` (fails on exit or timeout)."""
        deadline = time.monotonic() + within_s
        regex = re.compile(pattern)
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line:
                self.lines.append(line.rstrip("\n"))
                if match := regex.search(line):
                    return match
                continue
            if self.process.poll() is not None:
                rest = self.process.stdout.read() or ""
                self.lines += rest.splitlines()
                pytest.fail(
                    f"demo exited ({self.process.returncode}) before {pattern!r}:\n" + self.output
                )
            time.sleep(0.1)
        pytest.fail(f"no {pattern!r} within {within_s:.0f} s:\n" + self.output)

    def finish(self, within_s: float) -> int:
        try:
            out, _ = self.process.communicate(timeout=within_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
            pytest.fail("demo did not exit in time:\n" + self.output + (out or ""))
        self.lines += (out or "").splitlines()
        return self.process.returncode

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[object]:
    """start_demo(*args) -> DemoRun; the process is killed at teardown if still running."""
    runs: list[DemoRun] = []

    def start(*args: str) -> DemoRun:
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "naila_demo", "--out-dir", str(tmp_path / "out"), *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        run = DemoRun(process)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
