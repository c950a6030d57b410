"""Test peers for the gateway's HTTP side: an aiortc WHIP client and an MQTT topic watcher."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiomqtt
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from naila_sim.mic import MicTrack
from naila_sim.recorder import Recorder


@dataclass
class WhipClient:
    """A WHIP client on aiortc: POSTs its offer, plays queued audio, records what it hears."""

    base_url: str
    device_id: str
    direction: str = "sendrecv"
    headers: dict[str, str] = field(default_factory=dict)
    pc: RTCPeerConnection = field(init=False)
    mic: MicTrack = field(init=False)
    recorder: Recorder = field(default_factory=Recorder)
    location: str | None = None
    answer: str = ""

    def __post_init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = MicTrack()
        self.connected = asyncio.Event()

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                self.recorder.attach(track)

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()
            elif self.pc.connectionState == "failed":
                await self.pc.close()

    async def offer(self) -> str:
        self.pc.addTransceiver(self.mic, direction=self.direction)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def connect(
        self, http: aiohttp.ClientSession, query: str = "?listening_mode=always"
    ) -> None:
        sdp = await self.offer()
        url = f"{self.base_url}whip/{self.device_id}{query}"
        headers = {"Content-Type": "application/sdp", **self.headers}
        async with http.post(url, data=sdp, headers=headers) as response:
            body = await response.text()
            assert response.status == 201, (response.status, body)
            self.location = response.headers["Location"]
            self.answer = body
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
        await asyncio.wait_for(self.connected.wait(), 15)

    async def delete(self, http: aiohttp.ClientSession) -> int:
        assert self.location is not None
        url = self.base_url.rstrip("/") + self.location
        async with http.delete(url, headers=self.headers) as response:
            return response.status

    async def close(self) -> None:
        self.recorder.detach()
        await self.pc.close()


@dataclass
class TopicWatcher:
    """Collects JSON messages of some topics from the real broker."""

    messages: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)
    _added: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(
        self, suffix: str, *, since: int = 0, within: float = 15.0, **match: Any
    ) -> dict[str, Any]:
        """First message at index >= since on a topic ending with `suffix`, with these values."""
        async with asyncio.timeout(within):
            while True:
                for topic, data, _ in self.messages[since:]:
                    if topic.endswith(suffix) and all(data.get(k) == v for k, v in match.items()):
                        return data
                self._added.clear()
                await self._added.wait()

    def events(self, name: str) -> list[dict[str, Any]]:
        return [d for t, d, _ in self.messages if t.endswith("/events") and d.get("event") == name]


@contextlib.asynccontextmanager
async def watch_topics(host: str, port: int, *filters: str) -> AsyncIterator[TopicWatcher]:
    watcher = TopicWatcher()
    async with aiomqtt.Client(host, port) as client:
        for topic_filter in filters:
            await client.subscribe(topic_filter, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                raw = message.payload
                try:
                    data = json.loads(raw if isinstance(raw, bytes | str) else b"")
                except ValueError:
                    continue
                if isinstance(data, dict):
                    watcher.messages.append((str(message.topic), data, bool(message.retain)))
                    watcher._added.set()

        task = asyncio.create_task(collect())
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
