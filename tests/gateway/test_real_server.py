"""End to end with the real AI server (`python -m wyoming_bridge`, packaged models)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from naila_sim import speak_text
from tests.conftest import free_port
from tests.helpers import wait_for_session

pytestmark = pytest.mark.slow


@dataclass
class ServerProcess:
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self, within: float = 180.0) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wyoming_bridge",
                "--no-wyoming",
                "--no-vision",
                "--audio-socket-host",
                "127.0.0.1",
                "--audio-socket-port",
                str(self.port),
                "--log-level",
                "WARNING",
            ]
        )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"wyoming_bridge exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("wyoming_bridge did not start listening")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def ai_server() -> Iterator[ServerProcess]:
    server = ServerProcess(free_port())
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def question() -> object:
    return speak_text("What is the capital of France?")


async def test_spoken_question_gets_spoken_answer(
    make_gateway, make_device, ai_server, question
) -> None:
    gateway = await make_gateway(ai_server_port=ai_server.port, reply_timeout=30.0)  # shared CPU
    device = await make_device("kitchen")
    await device.wait_connected()
    await asyncio.wait_for(gateway.server.wait_connected(), 10)

    turn = await device.turn(question, within=60)

    assert turn.event is not None and turn.event["status"] == "ok"
    assert "capital" in turn.event["transcript"].lower()
    assert turn.event["reply"].strip()
    end = await device.recorder.wait_quiet(turn.first_audio_index, frames=50, within=60)
    assert device.recorder.voiced_seconds(turn.first_audio_index, end) > 0.3
    print(
        f"first audio: device {turn.first_audio_ms:.0f} ms, gateway {turn.event['first_audio_ms']} ms"
    )
    print(
        "server timings:",
        turn.event["timings"],
        "gateway timings:",
        turn.event["gateway_timings"],
        "transcript:",
        turn.event["transcript"],
        "reply:",
        turn.event["reply"],
    )


async def test_barge_in_with_real_server(make_gateway, make_device, ai_server, question) -> None:
    gateway = await make_gateway(ai_server_port=ai_server.port, reply_timeout=30.0)  # shared CPU
    device = await make_device("office")
    await device.wait_connected()
    await asyncio.wait_for(gateway.server.wait_connected(), 10)
    session = await wait_for_session(gateway, "office")

    first = await device.turn(
        speak_text("Tell me a long story about a dragon and a knight."), within=60, wait_reply=False
    )
    before = len(device.events)
    mark = device.recorder.mark()
    await device.say(question)  # talk over the reply

    interrupted = await device.wait_event("interrupted", since=before)
    assert session.voice.track.last_voiced_at is not None
    assert session.voice.output.cleared_at is not None
    reply = await device.wait_event("reply", since=before, within=60)
    assert reply["request_id"] != interrupted["request_id"]
    assert "capital" in reply["transcript"].lower()
    assert first.first_audio_index is not None and device.recorder.first_voiced(mark) is not None


async def test_ai_server_killed_and_restarted(
    make_gateway, make_device, ai_server, question
) -> None:
    gateway = await make_gateway(ai_server_port=ai_server.port, reply_timeout=30.0)  # shared CPU
    device = await make_device("den")
    await device.wait_connected()
    await asyncio.wait_for(gateway.server.wait_connected(), 10)
    session = await wait_for_session(gateway, "den")

    await asyncio.to_thread(ai_server.kill)
    before = len(device.events)
    await device.say(question)
    await device.wait_event("server_unavailable", since=before, within=10)

    await asyncio.to_thread(ai_server.start)
    await asyncio.wait_for(gateway.server.wait_connected(), 30)
    turn = await device.turn(question, within=60)
    assert turn.event is not None and turn.event["reply"].strip()
    assert gateway.sessions["den"] is session
