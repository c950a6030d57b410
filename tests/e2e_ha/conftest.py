"""End to end through Home Assistant: HA in the test (Python 3.13), NAILA in a subprocess (3.11).

The NAILA side (`stack_runner.py`) runs on $NAILA_SERVER_PYTHON (else .venv/bin/python); the
3.11 suites skip this folder.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

if importlib.util.find_spec("homeassistant") is None:  # the Python 3.11 suite
    collect_ignore_glob = ["test_*.py"]
else:
    from tests.ha.real_broker import broker_port, real_mqtt, until  # noqa: F401 - fixtures

STACK_START_S = 300.0
TURN_S = 180.0


def naila_python() -> str:
    configured = os.environ.get("NAILA_SERVER_PYTHON")
    candidate = Path(configured) if configured else REPO / ".venv" / "bin" / "python"
    if not candidate.exists():
        pytest.fail(f"NAILA interpreter {candidate} not found: set NAILA_SERVER_PYTHON")
    return str(candidate)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/naila."""


@pytest.fixture(autouse=True)
def _hass_config_dir(hass, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hass.config.config_dir = str(tmp_path)


class NailaStack:
    """The stack runner subprocess: `await say(text)` -> the turn's result dict."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    async def read(self, within_s: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(within_s):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    tail = self.log.read_text(errors="replace")[-4000:]
                    pytest.fail(f"NAILA stack exited ({self.process.returncode}):\n{tail}")
                if line.startswith(b"{"):
                    return json.loads(line)

    async def say(self, text: str, words_per_minute: int = 160) -> dict[str, Any]:
        """espeak-ng speaks `text` into the device's microphone; the turn as the device saw it."""
        assert self.process.stdin is not None
        command = {"say": text, "wpm": words_per_minute}
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        result = await self.read(TURN_S)
        assert "error" not in result, result
        return result

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                async with asyncio.timeout(60):
                    await self.process.wait()
            except TimeoutError:
                os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()


async def start_stack(port: int, tmp: Path, *server_args: str) -> NailaStack:
    log = tmp / "stack.log"
    argv = [naila_python(), "-m", "tests.e2e_ha.stack_runner", "--mqtt-port", str(port),
            "--out-dir", str(tmp / "naila")]  # fmt: skip
    argv += [f"--server-arg={arg}" for arg in server_args]
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    stack = NailaStack(process, log)
    try:
        ready = await stack.read(STACK_START_S)
    except BaseException:
        await stack.stop()
        raise
    assert ready.get("ready"), ready
    return stack


@pytest.fixture
async def naila(broker_port: int, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await naila(*server_args)` -> a running NAILA stack on the test's broker."""
    stacks: list[NailaStack] = []

    async def start(*server_args: str) -> NailaStack:
        stack = await start_stack(broker_port, tmp_path, *server_args)
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        await stack.stop()
