"""SIGTERM (how Docker and the HA Supervisor stop add-ons) ends every NAILA process cleanly.

The real AI server (packaged models, Wyoming on), the gateway and simulated devices run as
subprocesses against a real mosquitto on 127.0.0.1; each gets SIGTERM while it holds
connections and a conversation is in flight, and must exit 0 within a bound with no line
at ERROR or above and no traceback in its log.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe

from tests.conftest import Broker, free_port
from tests.demo.conftest import REPO, unclean_lines

pytestmark = pytest.mark.timeout(600)

SERVER_START_S = 300.0
"""Model loading on a busy 2-core machine."""
STOP_WITHIN_S = 20.0
"""A clean stop: sessions closed, offline status published, sockets closed."""


class Service:
    """One NAILA process with its stdout and stderr in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, *argv],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.text))

    def wait_for(self, pattern: str, within_s: float, *, after: int = 0) -> None:
        """Wait until the log holds more than `after` matches of `pattern`."""
        deadline = time.monotonic() + within_s
        while self.count(pattern) <= after:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name}: no {pattern!r} within {within_s:.0f} s:\n{self.tail()}")
            time.sleep(0.1)

    def sigterm(self) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds until it exited)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_WITHIN_S * 3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"{self.name} still running after SIGTERM:\n{self.tail()}")
        return code, time.monotonic() - started

    def assert_clean_stop(self) -> None:
        code, took = self.sigterm()
        assert code == 0, f"{self.name} exit code {code}:\n{self.tail()}"
        assert took < STOP_WITHIN_S, f"{self.name} took {took:.1f} s to stop"
        unclean = unclean_lines(self.text)
        assert not unclean, f"{self.name} logged on its stop:\n" + "\n".join(unclean)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text.splitlines()[-lines:])


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()


async def _hold_wyoming_transcription(port: int, holding: asyncio.Event) -> None:
    """A Wyoming client (as HA's) mid-transcription: audio started, never stopped."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        assert await client.read_event() is not None
        await client.write_event(Transcribe().event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        chunk = AudioChunk(rate=16000, width=2, channels=1, audio=bytes(3200))
        await client.write_event(chunk.event())
        holding.set()
        await client.read_event()  # None once the server closes the connection


def _sim(device_id: str, broker: Broker, logs: Path, env: dict[str, str]) -> Service:
    argv = [
        "-m", "naila_sim", "--device-id", device_id, "--loopback",
        "--mqtt-host", broker.host, "--mqtt-port", str(broker.port),
        "--say", "what time is it", "--repeat", "50", "--pause", "0.3",
        "--timeout", "300", "--log-level", "INFO",
    ]  # fmt: skip
    return Service(device_id, argv, env, logs)


@pytest.mark.slow
def test_sigterm_ends_server_gateway_and_devices_cleanly(
    mqtt_broker: Broker, tmp_path: Path, services: list[Service]
) -> None:
    audio_port, wyoming_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "MQTT_HOST": mqtt_broker.host,
        "MQTT_PORT": str(mqtt_broker.port),
        "LOG_LEVEL": "INFO",
    }
    gateway_env = {
        **env,
        "AI_SERVER_HOST": "127.0.0.1",
        "AI_SERVER_PORT": str(audio_port),
        "WEBRTC_ICE_ADDRESSES": "127.0.0.1",
    }
    server_argv = [
        "-m", "wyoming_bridge", "--audio-socket-host", "127.0.0.1",
        "--audio-socket-port", str(audio_port), "--uri", f"tcp://127.0.0.1:{wyoming_port}",
    ]  # fmt: skip
    gateway_argv = ["-m", "naila_gateway", "--gateway-id", "gw-sigterm"]
    server = Service("server", server_argv, env, tmp_path)
    services.append(server)
    server.wait_for(r"Wyoming server listening", SERVER_START_S)
    gateway = Service("gateway", gateway_argv, gateway_env, tmp_path)
    services.append(gateway)
    gateway.wait_for(r"connected to AI server", 60)
    talker = _sim("sim_talker", mqtt_broker, tmp_path, env)
    services.append(talker)
    talker.wait_for(r"turn 1: first audio", 180)

    # 1. the gateway, in a live WebRTC session, connected to the server, an utterance in flight
    gateway.wait_for(r"utterance \S+ sent", 120, after=gateway.count(r"utterance \S+ sent"))
    gateway.assert_clean_stop()

    # 2. the server, with a gateway connection, a request in flight and a Wyoming client
    # mid-transcription; a second device talks through a restarted gateway
    gateway = Service("gateway-again", gateway_argv, gateway_env, tmp_path)
    services.append(gateway)
    gateway.wait_for(r"connected to AI server", 60)
    second = _sim("sim_second", mqtt_broker, tmp_path, env)
    services.append(second)
    second.wait_for(r"turn 1: first audio", 180)

    async def stop_server_mid_conversation() -> None:
        holding = asyncio.Event()
        wyoming = asyncio.create_task(_hold_wyoming_transcription(wyoming_port, holding))
        await asyncio.wait_for(holding.wait(), 30)
        sent = gateway.count(r"utterance \S+ sent")
        await asyncio.to_thread(gateway.wait_for, r"utterance \S+ sent", 120, after=sent)
        await asyncio.to_thread(server.assert_clean_stop)
        await asyncio.wait_for(wyoming, 10)  # the server closed the Wyoming connection

    asyncio.run(stop_server_mid_conversation())

    # 3. the devices (one in a session, one waiting for a reply) and the gateway left alone
    for service in (second, talker, gateway):
        service.assert_clean_stop()
