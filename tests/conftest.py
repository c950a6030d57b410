"""Fixtures shared by the Python 3.11 suites: a real mosquitto broker and real synthesized speech."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    config: Path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def start(self) -> None:
        """(Re)start on the same port, e.g. after stop() in a broker-restart test."""
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)])
        _wait_for_port(self.host, self.port)


def _wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port}")


def _start_broker(tmp: Path) -> Broker:
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed (scripts/bootstrap installs it)")
    port = free_port()
    config = tmp / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "persistence false\nmax_packet_size 16777216\n"
    )
    broker = Broker("127.0.0.1", port, subprocess.Popen(["mosquitto", "-c", str(config)]), config)
    _wait_for_port(broker.host, port)
    return broker


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh mosquitto on a free port of 127.0.0.1 for one test."""
    broker = _start_broker(tmp_path)
    yield broker
    if broker.process.poll() is None:
        broker.stop()


@pytest.fixture(scope="session")
def shared_mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One mosquitto for tests that only need a broker (use distinct topic prefixes)."""
    broker = _start_broker(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    if broker.process.poll() is None:
        broker.stop()


def synthesize_speech(text: str, sample_rate: int = 16000) -> np.ndarray:
    """Speak `text` with espeak-ng and return int16 mono PCM at `sample_rate` (sox resamples)."""
    espeak = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "--stdout", text], check=True, capture_output=True
    ).stdout
    raw = subprocess.run(
        [
            "sox",
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            str(sample_rate),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-",
        ],
        input=espeak,
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").copy()


@pytest.fixture(scope="session")
def speech() -> Callable[[str, int], np.ndarray]:
    """`speech(text, rate)` -> int16 mono PCM of espeak-ng saying text (cached per session)."""
    cache: dict[tuple[str, int], np.ndarray] = {}

    def make(text: str, sample_rate: int = 16000) -> np.ndarray:
        key = (text, sample_rate)
        if key not in cache:
            cache[key] = synthesize_speech(text, sample_rate)
        return cache[key]

    return make
