"""A simulated voice device: an aiortc peer that signals over MQTT exactly like a real one.

It subscribes first, then publishes its retained status (with a last will), answers the
gateway's offers (full SDP, `session_id` echoed), plays queued speech as its microphone paced
at 20 ms, records everything it hears, and collects the events the gateway publishes for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from naila_protocol.mqtt import Incoming, LinkStatus, MqttLink, MqttSettings, unique_client_id
from naila_protocol.payloads import Capability, DeviceStatus, audio_capable, utc_timestamp
from naila_protocol.tasks import TaskSet
from naila_protocol.topics import DEFAULT_PREFIX, QOS_RELIABLE, Topics
from naila_protocol.vocab import ListeningMode, WakeWord
from naila_sim.echo import EchoPath, RoomEcho
from naila_sim.loopback import loopback_host_addresses
from naila_sim.mic import MicTrack
from naila_sim.recorder import Recorder

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class SimDeviceConfig:
    device_id: str
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    prefix: str = DEFAULT_PREFIX
    mqtt_tls_ca_file: str | None = None
    """CA certificate (PEM) of the broker: turns TLS on."""
    mqtt_tls_cert_file: str | None = None
    mqtt_tls_key_file: str | None = None
    capabilities: list[str] = field(default_factory=lambda: [Capability.AUDIO, Capability.SPEAKER])
    firmware_version: str = "naila-sim-0.1"
    loopback: bool = False
    """Offer only 127.0.0.1 ICE candidates (patches aioice for the process while running)."""
    listening_mode: ListeningMode | None = ListeningMode.ALWAYS
    """Named in the status; the simulated device speaks without a wake word unless told to."""
    wake_word: WakeWord | None = None
    echo: RoomEcho | None = None
    """No echo cancellation: the microphone hears the device's own speaker (naila_sim/echo.py)."""
    name: str | None = None
    zone: str | None = None
    """Where the device is (its status `zone`: the area in Home Assistant, the alert zone)."""
    video: Callable[[], MediaStreamTrack] | None = None
    """A camera: makes the video track sent in each new WebRTC session."""

    def mqtt_settings(self) -> MqttSettings:
        return MqttSettings(
            host=self.mqtt_host,
            port=self.mqtt_port,
            username=self.mqtt_username,
            password=self.mqtt_password,
            prefix=self.prefix,
            tls_ca_file=self.mqtt_tls_ca_file,
            tls_cert_file=self.mqtt_tls_cert_file,
            tls_key_file=self.mqtt_tls_key_file,
        )


@dataclass(slots=True)
class Turn:
    """One spoken request and what came back."""

    speech_end: float
    """perf_counter() when the last speech frame left the microphone."""
    first_audio_at: float | None = None
    first_audio_index: int | None = None
    event: dict[str, Any] | None = None
    """The gateway's `reply` event for this turn, when it arrived."""

    @property
    def first_audio_ms(self) -> float | None:
        if self.first_audio_at is None:
            return None
        return (self.first_audio_at - self.speech_end) * 1000


class SimDevice:
    """`async with SimDevice(config) as device:`; then `await device.wait_connected()`."""

    def __init__(self, config: SimDeviceConfig) -> None:
        self.config = config
        self.topics = Topics(config.prefix)
        self.recorder = Recorder()
        self.echo = EchoPath(config.echo) if config.echo is not None else None
        if self.echo is not None:
            self.recorder.on_frame = self.echo.heard
        self.mic = MicTrack(self.echo)
        self.pc: RTCPeerConnection | None = None
        self.session_id: str | None = None
        self.offers = 0
        self.events: list[dict[str, Any]] = []
        self._event_added = asyncio.Event()
        self._status_payload = self._make_status(online=True)
        device_id = config.device_id
        self.link = MqttLink(
            config.mqtt_settings(),
            client_id=unique_client_id(f"naila-sim-{device_id}"),
            on_message=self._on_message,
            subscriptions=[
                (self.topics.device(device_id, leaf), QOS_RELIABLE)
                for leaf in ("signaling/offer", "signaling/ice", "events")
            ],
            # the same bytes on a reconnect: the gateway keeps a live session
            status=LinkStatus(
                topic=self.topics.device_status(device_id),
                online_payload=lambda: self._status_payload,
                offline_payload=DeviceStatus(device_id, online=False).to_json(),  # the last will
            ),
        )
        self._connected = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks = TaskSet(_LOGGER)
        self._loopback: contextlib.ExitStack | None = None

    # lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> SimDevice:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, within: float = 10.0) -> None:
        """Connect to the broker (subscriptions, then the retained status) within `within` s
        (else stopped again, TimeoutError); the link keeps reconnecting until stop()."""
        if self.config.loopback:
            self._loopback = contextlib.ExitStack()
            self._loopback.enter_context(loopback_host_addresses())
        self.link.start()
        try:
            await asyncio.wait_for(self.link.connected.wait(), within)
        except BaseException:
            await self.stop(publish_offline=False)
            raise

    async def stop(self, *, publish_offline: bool = True) -> None:
        """Publish offline (like a clean shutdown), close the peer and MQTT. Without
        `publish_offline` the retained status stays as it was (a device that vanished).
        Safe to call twice."""
        if publish_offline:
            with contextlib.suppress(RuntimeError):  # not connected: nothing to publish on
                await self.set_online(False)
        await self._close_pc()
        await self.link.close(publish_offline=False)
        await self._tasks.close()
        await self.recorder.close()
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None

    def _make_status(self, *, online: bool) -> bytes:
        config = self.config
        return DeviceStatus(
            device_id=config.device_id,
            online=online,
            capabilities=frozenset(config.capabilities),
            name=config.name or None,
            zone=config.zone or None,
            listening_mode=config.listening_mode or None,
            wake_word=config.wake_word or None,
            timestamp=utc_timestamp(milliseconds=True),
            firmware_version=config.firmware_version,
        ).to_json()

    async def set_online(self, online: bool) -> None:
        """Publish a fresh retained status (a new session when online, teardown when not)."""
        self._connected.clear()
        if not online:
            await self._close_pc()
        self._status_payload = self._make_status(online=online)
        await self._publish(
            self.topics.device_status(self.config.device_id), self._status_payload, retain=True
        )

    async def publish_raw(self, leaf: str, payload: bytes, *, device_id: str | None = None) -> None:
        """Publish anything on one of this device's topics (for malformed-input tests)."""
        await self._publish(self.topics.device(device_id or self.config.device_id, leaf), payload)

    async def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        if not await self.link.publish_and_wait(topic, payload, qos=QOS_RELIABLE, retain=retain):
            raise RuntimeError("MQTT is not connected")

    def _on_message(self, message: Incoming) -> None:
        parsed = self.topics.parse_device_topic(message.topic)
        if parsed is None:
            return
        _, leaf = parsed
        try:
            data = json.loads(message.payload)
        except ValueError:  # not JSON, or not UTF-8
            return
        if not isinstance(data, dict):
            return
        if leaf == "events":
            self.events.append(data)
            self._event_added.set()
        elif leaf == "signaling/offer":
            self._tasks.spawn(self._answer(data), name=f"answer {self.config.device_id}")

    # WebRTC ---------------------------------------------------------------------------
    async def _answer(self, offer: dict[str, Any]) -> None:
        async with self._lock:
            await self._close_pc()
            self.offers += 1
            session_id = str(offer.get("session_id"))
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            self.pc, self.session_id = pc, session_id
            old_mic, self.mic = self.mic, MicTrack(self.echo)
            old_mic.clear()  # speech cut by the new session: a waiting say() returns

            @pc.on("track")
            def on_track(track: Any) -> None:
                if track.kind == "audio":
                    self.recorder.attach(track)

            @pc.on("connectionstatechange")
            async def on_state() -> None:
                if pc.connectionState == "connected" and pc is self.pc:
                    self._connected.set()
                elif pc.connectionState in ("failed", "closed"):
                    if pc is self.pc:
                        self._connected.clear()
                    await pc.close()

            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=str(offer.get("sdp")), type="offer")
            )
            if not self.config.video or audio_capable(self.config.capabilities):
                pc.addTrack(self.mic)
            if self.config.video is not None:
                pc.addTrack(self.config.video())
            await pc.setLocalDescription(await pc.createAnswer())
            answer = {"type": "answer", "sdp": pc.localDescription.sdp, "session_id": session_id}
            await self.link.publish_and_wait(
                self.topics.signaling_answer(self.config.device_id),
                json.dumps(answer).encode(),
                qos=QOS_RELIABLE,
            )

    async def _close_pc(self) -> None:
        pc, self.pc = self.pc, None
        self._connected.clear()
        if pc is not None:
            await pc.close()

    async def wait_connected(self, within: float = 15.0) -> None:
        """Wait for an established WebRTC session with the gateway."""
        await asyncio.wait_for(self._connected.wait(), within)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # speaking and listening -----------------------------------------------------------
    async def say(self, samples: np.ndarray) -> float:
        """Speak 48 kHz mono int16 audio; returns perf_counter() of its last frame."""
        self.mic.queue(samples)
        end = await self.mic.wait_drained()
        return end if end is not None else time.perf_counter()

    async def turn(
        self, samples: np.ndarray, *, within: float = 30.0, wait_reply: bool = True
    ) -> Turn:
        """Say something and wait for the first sound of the answer (and its reply event)."""
        start_events = len(self.events)
        turn = Turn(speech_end=await self.say(samples))
        mark = self.recorder.mark()
        index = await self.recorder.wait_voiced(mark, within)
        turn.first_audio_index = index
        turn.first_audio_at = self.recorder.time_of(index)
        if wait_reply:
            with contextlib.suppress(TimeoutError):
                turn.event = await self.wait_event("reply", since=start_events, within=within)
        return turn

    async def wait_event(
        self, name: str, *, since: int = 0, within: float = 15.0, **match: Any
    ) -> dict[str, Any]:
        """First gateway event `name` (with these field values) at index >= since."""
        async with asyncio.timeout(within):
            while True:
                for event in self.events[since:]:
                    if event.get("event") == name and all(
                        event.get(k) == v for k, v in match.items()
                    ):
                        return event
                self._event_added.clear()
                await self._event_added.wait()
