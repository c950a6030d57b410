"""A second WebRTC stack: GStreamer webrtcbin as a WHIP client; its speech is transcribed."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.browser.speech import spoken_wav
from tests.gateway.whip_client import watch_topics

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the stack is session-wide

SYSTEM_PYTHON = "/usr/bin/python3"
CLIENT = Path(__file__).with_name("gst_whip_client.py")


@pytest.mark.skipif(
    not Path(SYSTEM_PYTHON).exists() or not shutil.which("gst-inspect-1.0"), reason="no GStreamer"
)
async def test_webrtcbin_whip_client_is_transcribed(stack, shared_mqtt_broker, tmp_path) -> None:
    wav = tmp_path / "question.wav"
    wav.write_bytes(spoken_wav("What is the capital of France?"))
    prefix = stack.settings.prefix
    async with watch_topics(
        shared_mqtt_broker.host, shared_mqtt_broker.port, f"{prefix}/devices/gst_whip/#"
    ) as mqtt:
        client = await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON, str(CLIENT), stack.page_url + "whip/gst_whip?listening_mode=always", str(wav),
            "--lead", "2", "--tail", "25",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            status = await mqtt.wait("/gst_whip/status", online=True, within=30)
            assert "speaker" in status["capabilities"]
            utterance = await mqtt.wait("/gst_whip/events", event="utterance", within=30)
            reply = await mqtt.wait(
                "/gst_whip/events", event="reply", request_id=utterance["request_id"], within=120
            )
        finally:
            if client.returncode is None:
                client.terminate()
            output = (await client.communicate())[0].decode()
        assert "CONNECTED" in output, output
        assert "capital" in reply["transcript"].lower(), reply
        assert reply["reply"].strip()
