"""A camera device through the real gateway: MQTT signaling on mosquitto, WebRTC offer from the
gateway, motion frames over the gateway's AI-server connection to a TCP receiver."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiomqtt
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from naila_gateway import Gateway, GatewayConfig
from naila_gateway.video import VideoConfig
from naila_protocol.framing import FrameKind
from naila_protocol.mqtt import MqttSettings
from naila_protocol.topics import QOS_RELIABLE, Topics
from naila_sim.synthetic import MOVING, STATIC, SyntheticCameraTrack, SyntheticScene
from tests.conftest import Broker

from .conftest import VideoReceiver, decode_jpeg


@contextlib.asynccontextmanager
async def camera_device(
    broker: Broker, device_id: str, track: SyntheticCameraTrack, capabilities: list[str]
) -> AsyncIterator[None]:
    """A device that announces itself over MQTT and answers the gateway's offer with `track`."""
    topics = Topics()
    peers: list[RTCPeerConnection] = []
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(topics.signaling_offer(device_id), qos=QOS_RELIABLE)
        status = {
            "device_id": device_id,
            "online": True,
            "capabilities": capabilities,
            "firmware_version": "test",
            "timestamp": 1,
        }
        await client.publish(
            topics.device_status(device_id), json.dumps(status), qos=1, retain=True
        )

        async def answer_offers() -> None:
            async for message in client.messages:
                offer = json.loads(bytes(message.payload))
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                peers.append(pc)
                await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
                pc.addTrack(track)
                await pc.setLocalDescription(await pc.createAnswer())
                answer = {
                    "type": "answer",
                    "sdp": pc.localDescription.sdp,
                    "session_id": offer["session_id"],
                }
                await client.publish(topics.signaling_answer(device_id), json.dumps(answer), qos=1)

        task = asyncio.create_task(answer_offers())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.publish(topics.device_status(device_id), b"", qos=1, retain=True)
            for pc in peers:
                await pc.close()


@pytest.mark.parametrize("capabilities", [["camera"], ["audio", "speaker", "camera"]])
async def test_camera_motion_reaches_the_ai_server_through_the_gateway(
    mqtt_broker: Broker, receiver: VideoReceiver, capabilities: list[str]
) -> None:
    config = GatewayConfig(
        mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
        ai_server_port=receiver.port,
        video=VideoConfig(frame_skip=0, max_fps=0),
    )
    track = SyntheticCameraTrack(SyntheticScene(320, 240), [(STATIC, 20), (MOVING, 20)], fps=10)
    ended = asyncio.Event()
    track.on("ended", ended.set)
    gateway = Gateway(config)
    await gateway.start()
    try:
        async with camera_device(mqtt_broker, "front_door", track, capabilities):
            await asyncio.wait_for(ended.wait(), 30)
            await asyncio.sleep(0.5)  # let the last RTP frames arrive (no event: some may be lost)
            consumer = gateway.sessions["front_door"].video_consumer
            assert consumer is not None
            stats = consumer.stats
    finally:
        await gateway.stop()

    assert stats.frames_seen >= 30
    assert stats.frames_sent >= 5
    assert len(receiver.frames) == stats.frames_sent
    assert receiver.frames[0][0] >= track.phase_started[MOVING]
    for _, frame in receiver.frames:
        assert (frame.kind, frame.device_id) == (FrameKind.VIDEO, "front_door")
        image = decode_jpeg(frame.payload)
        assert (image.width, image.height) == (320, 240)
