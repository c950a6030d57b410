"""Instrumented bench device: signals over MQTT like a real device, speaks tone-burst
utterances, and timestamps every tone onset it sends and hears (see gateway_markers)."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from bench.gateway_markers import OnsetDetector, tone
from naila_protocol.payloads import Capability, DeviceStatus, utc_timestamp
from naila_protocol.topics import QOS_RELIABLE, Topics
from naila_protocol.vocab import ListeningMode

_LOGGER = logging.getLogger("bench.device")

RATE = 48000
FRAME = 960
PTIME = FRAME / RATE


def set_receive_prefetch(pc: RTCPeerConnection, frames: int) -> None:
    """aiortc's audio jitter buffer waits for 4 packets (~80 ms); make it `frames`."""
    for transceiver in pc.getTransceivers():
        buffer = getattr(transceiver.receiver, "_RTCRtpReceiver__jitter_buffer", None)
        if buffer is not None and hasattr(buffer, "_prefetch"):
            buffer._prefetch = frames


async def received_audio(track: MediaStreamTrack) -> AsyncIterator[tuple[float, np.ndarray, int]]:
    """(monotonic arrival time, int16 mono samples, rate) of each audio frame until the track ends."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if not isinstance(frame, AudioFrame):
            continue
        now = time.monotonic()
        pcm = frame.to_ndarray().reshape(-1)
        if frame.layout.name == "stereo":
            pcm = pcm[::2]
        yield now, pcm, frame.sample_rate


@dataclass
class Talk:
    """When to speak: a tone utterance, then wait for the far side's answer (or a timeout)."""

    utterance_s: float = 0.5
    gap_s: float = 0.4
    answer_timeout_s: float = 4.0


@dataclass
class DeviceStats:
    sent_onsets: list[float] = field(default_factory=list)
    heard_onsets: list[float] = field(default_factory=list)
    frames_sent: int = 0
    frames_heard: int = 0
    samples_heard: int = 0


class PacedTrack(MediaStreamTrack):
    """Outgoing 48 kHz mono track paced on an absolute 20 ms clock; next_samples() fills it."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._index = 0

    def next_samples(self, now: float) -> np.ndarray:
        """FRAME int16 samples for the frame leaving at monotonic time `now`."""
        raise NotImplementedError

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        delay = self._start + self._index * PTIME - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        samples = self.next_samples(time.monotonic())
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._index * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self._index += 1
        return frame


class MarkerTrack(PacedTrack):
    """The device's microphone, scripted by `Talk`; timestamps the tone onsets it sends."""

    def __init__(self, device: BenchDevice) -> None:
        super().__init__()
        self._device = device
        self._pending = np.zeros(0, dtype=np.int16)
        self._detector = OnsetDetector()
        self._utterance = tone(device.talk.utterance_s, RATE)
        self._next_talk_at = 0.0

    def _script(self, now: float) -> np.ndarray:
        dev = self._device
        if self._pending.size == 0 and dev.talking and now >= self._next_talk_at:
            self._pending = self._utterance
            dev.awaiting_answer_since = now + dev.talk.utterance_s
            self._next_talk_at = now + dev.talk.utterance_s + dev.talk.answer_timeout_s
        if self._pending.size == 0:
            if dev.answer_done_at is not None:
                self._next_talk_at = min(self._next_talk_at, dev.answer_done_at + dev.talk.gap_s)
                dev.answer_done_at = None
            return np.zeros(FRAME, dtype=np.int16)
        out, self._pending = self._pending[:FRAME], self._pending[FRAME:]
        if out.size < FRAME:
            out = np.concatenate([out, np.zeros(FRAME - out.size, dtype=np.int16)])
        return out

    def next_samples(self, now: float) -> np.ndarray:
        samples = self._script(now)
        if self._device.measuring:
            self._device.stats.frames_sent += 1
            self._device.stats.sent_onsets.extend(self._detector.feed(samples, RATE, now))
        else:
            self._detector.feed(samples, RATE, now)
        return samples


class BenchDevice:
    """One simulated device: MQTT status + answer to the peer's offer + audio in/out."""

    def __init__(
        self,
        device_id: str,
        mqtt_host: str,
        mqtt_port: int,
        *,
        topics: Topics | None = None,
        talk: Talk | None = None,
        prefetch_frames: int = 1,
    ) -> None:
        self.device_id = device_id
        self.mqtt_host = mqtt_host
        self.mqtt_port = mqtt_port
        self.topics = topics or Topics()
        self.talk = talk or Talk()
        self.prefetch_frames = prefetch_frames
        self.stats = DeviceStats()
        self.measuring = False
        self.talking = False
        self.awaiting_answer_since: float | None = None
        self.answer_done_at: float | None = None
        self.connected = asyncio.Event()
        self._pc: RTCPeerConnection | None = None
        self._session_id: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heard = OnsetDetector()
        self._last_loud = 0.0

    def _status(self, online: bool) -> bytes:
        return DeviceStatus(
            device_id=self.device_id,
            online=online,
            capabilities=frozenset({Capability.AUDIO, Capability.SPEAKER}),
            listening_mode=ListeningMode.ALWAYS,
            timestamp=utc_timestamp(),
            firmware_version="bench-1",
        ).to_json()

    async def run(self) -> None:
        """Connect, announce, and answer offers until cancelled."""
        will = aiomqtt.Will(self.topics.device_status(self.device_id), self._status(False), 1, True)
        async with aiomqtt.Client(
            self.mqtt_host,
            self.mqtt_port,
            identifier=f"bench-{self.device_id}-{uuid.uuid4().hex[:6]}",
            will=will,
            socket_options=((6, 1, 1),),  # IPPROTO_TCP, TCP_NODELAY, on
        ) as client:
            await client.subscribe(self.topics.signaling_offer(self.device_id), qos=QOS_RELIABLE)
            await client.publish(
                self.topics.device_status(self.device_id), self._status(True), qos=1, retain=True
            )
            try:
                async for message in client.messages:
                    await self._on_offer(client, message.payload)
            finally:
                await self.close()
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.publish(
                        self.topics.device_status(self.device_id), b"", qos=1, retain=True
                    )

    async def _on_offer(self, client: aiomqtt.Client, payload: Any) -> None:
        try:
            offer = json.loads(payload)
            sdp, session_id = offer["sdp"], offer["session_id"]
        except (ValueError, KeyError, TypeError):
            _LOGGER.warning("[%s] malformed offer ignored", self.device_id)
            return
        await self.close()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pc, self._session_id = pc, session_id

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            self._spawn(self._drain(track))

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            _LOGGER.debug("[%s] connection %s", self.device_id, pc.connectionState)
            if pc.connectionState == "connected":
                self.connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self.connected.clear()
                await pc.close()

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        set_receive_prefetch(pc, self.prefetch_frames)
        pc.addTrack(MarkerTrack(self))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = {"type": "answer", "sdp": pc.localDescription.sdp, "session_id": session_id}
        await client.publish(
            self.topics.signaling_answer(self.device_id), json.dumps(answer), qos=QOS_RELIABLE
        )

    async def _drain(self, track: MediaStreamTrack) -> None:
        async for now, pcm, rate in received_audio(track):
            onsets = self._heard.feed(pcm, rate, now)
            if float(np.abs(pcm).max(initial=0)) > 1500:
                self._last_loud = now
            waiting = self.awaiting_answer_since
            if waiting is not None and waiting < self._last_loud < now - 0.15:
                self.answer_done_at = now
                self.awaiting_answer_since = None
            if self.measuring:
                self.stats.frames_heard += 1
                self.stats.samples_heard += pcm.size
                self.stats.heard_onsets.extend(onsets)

    async def rtp_stats(self) -> dict[str, int]:
        """Packets lost each way from aiortc stats (gateway->device measured here,
        device->gateway as reported back by the gateway's RTCP receiver reports)."""
        out = {"rx_lost": 0, "rx_packets": 0, "tx_lost_remote": 0, "tx_packets": 0}
        if self._pc is None:
            return out
        report = await self._pc.getStats()
        for stat in report.values():
            name = type(stat).__name__
            if name == "RTCInboundRtpStreamStats":
                out["rx_lost"] += max(0, int(stat.packetsLost))
                out["rx_packets"] += int(stat.packetsReceived)
            elif name == "RTCRemoteInboundRtpStreamStats":
                out["tx_lost_remote"] += max(0, int(stat.packetsLost))
            elif name == "RTCOutboundRtpStreamStats":
                out["tx_packets"] += int(stat.packetsSent)
        return out

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        pc, self._pc = self._pc, None
        self.connected.clear()
        if pc is not None:
            await pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
