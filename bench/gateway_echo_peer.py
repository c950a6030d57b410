"""BASELINE for bench/gateway_streams.py: a plain aiortc peer that does the gateway's WebRTC
job and nothing else. It offers to every device that comes online (same MQTT signaling as
the gateway), decodes what it hears and sends it straight back on a 20 ms paced track.

Run by the bench as a separate process so its CPU is measured exactly like the gateway's:
    python bench/gateway_echo_peer.py --mqtt-port 1883 --results out.json
On SIGTERM it writes the tone onsets it heard per device (monotonic seconds) to --results.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

import aiomqtt
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.gateway_device import FRAME, PacedTrack, received_audio, set_receive_prefetch
from bench.gateway_markers import OnsetDetector
from naila_protocol.payloads import DeviceStatus, PayloadError, decode_object
from naila_protocol.tasks import cancel_and_wait
from naila_protocol.topics import QOS_RELIABLE, Topics

_LOGGER = logging.getLogger("bench.echo_peer")


class EchoTrack(PacedTrack):
    """Plays back queued PCM frames on an absolute 20 ms clock; silence when the queue is empty."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: collections.deque[np.ndarray] = collections.deque(maxlen=1)
        """One slot: a relay stays live (a standing backlog would add its depth to every frame)."""

    def next_samples(self, now: float) -> np.ndarray:
        return self.queue.popleft() if self.queue else np.zeros(FRAME, dtype=np.int16)


class EchoSession:
    def __init__(self, device_id: str, prefetch: int) -> None:
        self.device_id = device_id
        self.session_id = uuid.uuid4().hex
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = EchoTrack()
        self.detector = OnsetDetector()
        self.prefetch = prefetch
        self.tasks: set[asyncio.Task[None]] = set()

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            task = asyncio.create_task(self._drain(track))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        @self.pc.on("connectionstatechange")
        async def _on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                await self.pc.close()

    async def offer(self) -> dict[str, str]:
        self.pc.addTransceiver(self.track, direction="sendrecv")
        set_receive_prefetch(self.pc, self.prefetch)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"type": "offer", "sdp": self.pc.localDescription.sdp, "session_id": self.session_id}

    async def _drain(self, track: MediaStreamTrack) -> None:
        async for now, pcm, rate in received_audio(track):
            self.detector.feed(pcm, rate, now)
            self.track.queue.append(pcm.astype(np.int16))

    async def close(self) -> None:
        await self.pc.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class EchoPeer:
    def __init__(self, host: str, port: int, topics: Topics, prefetch: int) -> None:
        self.host, self.port, self.topics, self.prefetch = host, port, topics, prefetch
        self.sessions: dict[str, EchoSession] = {}
        self.onsets: dict[str, list[float]] = collections.defaultdict(list)

    async def run(self) -> None:
        async with aiomqtt.Client(
            self.host,
            self.port,
            identifier=f"bench-echo-{uuid.uuid4().hex[:6]}",
            socket_options=((6, 1, 1),),
        ) as client:
            await client.subscribe(self.topics.device_wildcard("status"), qos=QOS_RELIABLE)
            await client.subscribe(
                self.topics.device_wildcard("signaling/answer"), qos=QOS_RELIABLE
            )
            async for message in client.messages:
                parsed = self.topics.parse_device_topic(str(message.topic))
                if parsed is None:
                    continue
                device_id, leaf = parsed
                payload = message.payload if isinstance(message.payload, bytes) else b""
                try:
                    if leaf == "status":
                        status = DeviceStatus.from_json(payload, device_id, listening=False)
                        await self._on_status(client, status)
                    elif leaf == "signaling/answer":
                        await self._on_answer(device_id, decode_object(payload))
                except PayloadError:
                    continue

    async def _on_status(self, client: aiomqtt.Client, status: DeviceStatus) -> None:
        device_id = status.device_id
        await self._close(device_id)
        if not status.online or not status.has_audio:
            return
        session = EchoSession(device_id, self.prefetch)
        self.sessions[device_id] = session
        offer = await session.offer()
        await client.publish(
            self.topics.signaling_offer(device_id), json.dumps(offer), qos=QOS_RELIABLE
        )

    async def _on_answer(self, device_id: str, data: dict[str, Any]) -> None:
        session = self.sessions.get(device_id)
        if session is None or data.get("session_id") != session.session_id:
            return
        await session.pc.setRemoteDescription(RTCSessionDescription(sdp=data["sdp"], type="answer"))

    async def _close(self, device_id: str) -> None:
        session = self.sessions.pop(device_id, None)
        if session is not None:
            self.onsets[device_id].extend(session.detector.onsets)
            await session.close()

    async def close_all(self) -> None:
        for device_id in list(self.sessions):
            await self._close(device_id)


async def _main(args: argparse.Namespace) -> None:
    peer = EchoPeer(args.mqtt_host, args.mqtt_port, Topics(args.prefix), args.prefetch)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(peer.run())
    waiting = asyncio.create_task(stop.wait())
    await asyncio.wait([runner, waiting], return_when=asyncio.FIRST_COMPLETED)
    await cancel_and_wait([runner, waiting], log=False)  # a broker that went away first is fine
    await peer.close_all()
    await asyncio.to_thread(Path(args.results).write_text, json.dumps(peer.onsets))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mqtt-host", default="127.0.0.1")
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--prefix", default="naila")
    parser.add_argument(
        "--prefetch", type=int, default=1, help="receive jitter-buffer prefetch, frames"
    )
    parser.add_argument("--results", required=True, help="JSON file written on exit")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
