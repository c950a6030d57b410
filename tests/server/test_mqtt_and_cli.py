"""MQTT status/metrics against a real mosquitto, and the command line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable

import aiomqtt
import numpy as np
import pytest

from naila_protocol.framing import Frame, FrameKind
from naila_protocol.mqtt import MqttSettings
from tests.conftest import Broker
from tests.server.conftest import ServerFactory
from tests.server.wire import connect
from wyoming_bridge.app import ServerSettings
from wyoming_bridge.cli import parse_settings

Speech = Callable[[str, int], np.ndarray]


async def next_json(messages: aiomqtt.client.MessagesIterator, topic: str) -> dict:  # type: ignore[type-arg]
    async with asyncio.timeout(60):
        async for message in messages:
            if message.topic.matches(topic):
                return json.loads(message.payload)  # type: ignore[arg-type]
    raise AssertionError("subscription ended")


async def test_status_and_metrics_published(
    make_server: ServerFactory, mqtt_broker: Broker, speech: Speech
) -> None:
    mqtt = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port, prefix="t1")
    server = await make_server(settings=ServerSettings(mqtt=mqtt, server_id="srv"))
    assert server.mqtt is not None
    await asyncio.wait_for(server.mqtt.connected.wait(), 10)
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe("t1/server/#", qos=1)
        status = await next_json(client.messages, "t1/server/status")
        assert status["online"] is True and status["server_id"] == "srv"
        assert {"stt", "llm", "tts"} <= set(status["services"])
        pcm = speech("what time is it", 16000).astype("<i2").tobytes()
        async with connect(server.port) as gateway:
            await gateway.send(Frame("porch", 16000, "mq1", FrameKind.STREAM, pcm))
            await gateway.streamed_reply("mq1")
        metrics = await next_json(client.messages, "t1/server/metrics")
        assert (metrics["device_id"], metrics["request_id"], metrics["requests_total"]) == (
            "porch",
            "mq1",
            1,
        )
        for key in (
            "stt_ms",
            "llm_first_token_ms",
            "tts_first_chunk_ms",
            "first_audio_ms",
            "total_ms",
        ):
            assert metrics[key] > 0, key
        await server.stop()
        offline = await next_json(client.messages, "t1/server/status")
        assert offline["online"] is False


def test_help_needs_no_models() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_bridge", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    for flag in (
        "--audio-socket-port",
        "--uri",
        "--mqtt-host",
        "--stt-model",
        "--llm-model",
        "--tts-voice",
    ):
        assert flag in result.stdout


def test_missing_model_is_one_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_bridge", "--stt-model", "/nonexistent/whisper"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Whisper model directory not found at /nonexistent/whisper" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "flag"),
    [("AUDIO_SOCKET_PORT", "--audio-socket-port"), ("VISION_THREADS", "--vision-threads")],
)
def test_malformed_environment_number_is_a_clear_cli_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, flag: str
) -> None:
    monkeypatch.setenv(variable, "lots")
    with pytest.raises(SystemExit) as exit_info:
        parse_settings([])
    assert exit_info.value.code == 2
    assert f"argument {flag}: invalid int value: 'lots'" in capsys.readouterr().err


def test_missing_vision_model_is_one_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_bridge", "--vision-models", "/nope/model.onnx",
         "--no-wyoming", "--audio-socket-port", "0"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "model '/nope/model.onnx' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
