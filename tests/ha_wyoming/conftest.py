"""NAILA's AI server as a real subprocess (Python 3.11 venv), seen by HA's wyoming integration.

Runs in the Home Assistant venv (Python 3.13) only; the 3.11 suite skips this folder.
The server interpreter is $NAILA_SERVER_PYTHON, else the repository's .venv/bin/python.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

if importlib.util.find_spec("homeassistant") is None:  # the Python 3.11 suite
    collect_ignore_glob = ["test_*.py"]

REPO = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class WyomingServer:
    host: str
    port: int
    log: Path


def server_python() -> str:
    """The interpreter that has wyoming_bridge and its models installed."""
    configured = os.environ.get("NAILA_SERVER_PYTHON")
    candidate = Path(configured) if configured else REPO / ".venv" / "bin" / "python"
    if not candidate.exists():
        pytest.fail(
            f"NAILA server interpreter {candidate} not found: "
            "set NAILA_SERVER_PYTHON or run scripts/bootstrap"
        )
    return str(candidate)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _describe(host: str, port: int) -> dict:
    """Raw Wyoming Describe -> Info header (blocking; one JSON line per event)."""
    with socket.create_connection((host, port), timeout=5.0) as sock:
        sock.sendall(b'{"type": "describe"}\n')
        reader = sock.makefile("rb")
        while True:
            line = reader.readline()
            if not line:
                raise ConnectionError("closed before info")
            header = json.loads(line)
            payload = {}
            for key in ("data_length", "payload_length"):
                if length := header.get(key):
                    chunk = reader.read(length)
                    if key == "data_length":
                        payload = json.loads(chunk)
            if header.get("type") == "info":
                return {**header.get("data", {}), **payload}


def _wait_ready(proc: subprocess.Popen[bytes], host: str, port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"NAILA server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if _describe(host, port).get("asr"):
                return
        except (OSError, ValueError):
            time.sleep(0.3)
    pytest.fail(
        f"NAILA server not ready after {SERVER_START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def naila_server() -> Iterator[WyomingServer]:
    """`python -m wyoming_bridge` on free ports of 127.0.0.1 (Wyoming + gateway audio socket)."""
    import pytest_socket  # noqa: PLC0415 - HA venv only

    # phcc blocks sockets before fixtures run; port picking and the readiness probe need them.
    pytest_socket.enable_socket()
    host, port = "127.0.0.1", _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="naila-ha-wyoming-"))
    log = tmp / "server.log"
    argv = [
        server_python(), "-m", "wyoming_bridge",
        "--uri", f"tcp://{host}:{port}",
        "--audio-socket-host", host,
        "--audio-socket-port", str(_free_port()),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ready(proc, host, port, log)
    except BaseException:
        _stop(proc)
        raise
    finally:
        pytest_socket.disable_socket(allow_unix_socket=True)
    yield WyomingServer(host, port, log)
    _stop(proc)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def spoken_request() -> bytes:
    """'turn on the kitchen lights' spoken by espeak-ng: 16 kHz int16 mono PCM (HA's STT format)."""
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "--stdout", "turn on the kitchen lights"],
        check=True,
        capture_output=True,
    ).stdout
    return subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-c", "1", "-b", "16",
         "-e", "signed-integer", "-"],
        input=wav,
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip


@pytest.fixture(autouse=True)
def _hass_config_dir(hass, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """TTS writes its cache under the config dir: keep it in a temporary one."""
    hass.config.config_dir = str(tmp_path)


@pytest.fixture
async def wyoming_entry(hass, socket_enabled, naila_server: WyomingServer):  # type: ignore[no-untyped-def]
    """A config entry of HA's own `wyoming` integration pointing at the running server."""
    from homeassistant.config_entries import ConfigEntryState  # noqa: PLC0415
    from homeassistant.setup import async_setup_component  # noqa: PLC0415
    from pytest_homeassistant_custom_component.common import MockConfigEntry  # noqa: PLC0415

    assert await async_setup_component(hass, "homeassistant", {})
    entry = MockConfigEntry(
        domain="wyoming",
        title="NAILA",
        data={"host": naila_server.host, "port": naila_server.port},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
