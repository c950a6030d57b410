"""Gateway VIDEO frames over the real audio socket reach the vision service and raise alerts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from naila_protocol.framing import Frame, FrameKind, encode_frame
from wyoming_bridge.audio_socket import AudioSocketServer, AudioSocketSettings
from wyoming_bridge.engines import Engines, load_engines
from wyoming_bridge.llm import LlmSettings
from wyoming_bridge.pipeline import Pipeline
from wyoming_bridge.stt import SttSettings
from wyoming_bridge.tts import TtsSettings

from .conftest import StartService, next_json


@pytest.fixture(scope="module")
def engines() -> Iterator[Engines]:
    loaded = load_engines(SttSettings(), LlmSettings(), TtsSettings(), warm_up=False)
    yield loaded
    loaded.close()


@pytest.mark.slow
async def test_motion_frames_from_the_gateway_raise_an_alert(
    start_service: StartService, engines: Engines, client, photos
) -> None:
    svc = await start_service(zones={"garage_cam": "garage"})
    server = AudioSocketServer(
        Pipeline(engines, context_provider=svc.context_provider),
        AudioSocketSettings(host="127.0.0.1", port=0),
        video_handler=svc.video_frame_handler,
    )
    await server.start()
    await client.subscribe(svc.topics.alert("garage", "+"), qos=1)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        for i, jpeg in enumerate([b"\xff\xd8 broken", photos["bus.jpg"]]):
            frame = Frame("garage_cam", 0, f"v{i}", FrameKind.VIDEO, jpeg)
            writer.write(encode_frame(frame))
        await writer.drain()
        topic, alert = await next_json(client, wait=60)
        assert topic == svc.topics.alert("garage", "person_detected")
        assert alert["source_device"] == "garage_cam" and alert["count"] >= 3
        text = await svc.context_provider("garage_cam", "what do you see?")
        assert text is not None and "webrtc_stream" in text
        assert not reader.at_eof()  # the broken frame did not cost the gateway its connection
        writer.close()
        await writer.wait_closed()
    finally:
        await server.close()
