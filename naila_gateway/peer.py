"""One device's WebRTC connection: offer, answer, ICE, receive loop and clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.sdp import SessionDescription, candidate_from_sdp

from naila_gateway.pcm import to_mono
from naila_gateway.video import CameraVideoConsumer, VideoConfig, attach_video_track
from naila_gateway.video.sender import FrameSink
from naila_gateway.voice import VoiceSession
from naila_protocol.payloads import Capability
from naila_protocol.tasks import TaskSet

_LOGGER = logging.getLogger(__name__)
_AUDIO_JITTER_CAPACITY = 16
"""aiortc's audio jitter buffer size in packets (power of two)."""


def dtls_passive(answer: str, offer: str) -> str:
    """`answer` with `a=setup:passive` (DTLS server) where the offer left the role open.

    The offerer (Chromium, webrtcbin) then starts the handshake; aiortc as the DTLS client
    fails with some of them. aiortc takes its DTLS role from the local answer's SDP.
    """
    if "a=setup:actpass" not in offer:
        return answer
    return answer.replace("a=setup:active", "a=setup:passive")


class SessionLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with `[device/session]`."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"[{extra.get('device_id')}/{extra.get('session_id')}] {msg}", kwargs


def ice_configuration(urls: list[str]) -> RTCConfiguration:
    """RTCConfiguration with exactly these ICE servers (aiortc's default is a public STUN)."""
    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in urls])


def set_jitter_depth(receiver: RTCRtpReceiver, frames: int) -> bool:
    """Give one audio receiver a jitter buffer that releases frames after `frames` frames.

    aiortc 1.16 has no public setting (it fixes prefetch=4, ≈80 ms); this replaces the
    buffer of this receiver instance only, before any packet arrives. Returns False (and the
    default stays) if aiortc's internals changed.
    """
    attribute = "_RTCRtpReceiver__jitter_buffer"
    if not isinstance(getattr(receiver, attribute, None), JitterBuffer):
        _LOGGER.warning("cannot set jitter buffer depth on this aiortc version")
        return False
    setattr(receiver, attribute, JitterBuffer(capacity=_AUDIO_JITTER_CAPACITY, prefetch=frames))
    return True


class OfferRejected(ValueError):
    """A client's SDP offer the gateway cannot answer; `code` names why (JSON error reasons)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class OfferMedia:
    """What a client offer asks for: audio (required), whether it listens, camera video."""

    hears_replies: bool
    sends_video: bool

    @classmethod
    def of(cls, sdp: str) -> OfferMedia:
        try:
            parsed = SessionDescription.parse(sdp)
        except Exception as err:  # aiortc raises whatever its parser hits
            raise OfferRejected("bad_sdp", f"SDP offer does not parse: {err}") from None
        audio = [m for m in parsed.media if m.kind == "audio" and m.port != 0]
        if not audio:
            raise OfferRejected("no_audio", "the offer has no audio section")
        if not any(m.direction in ("sendrecv", "sendonly") for m in audio):
            raise OfferRejected("no_audio", "the offer sends no audio")
        if not all(m.dtls and m.dtls.fingerprints for m in audio):
            raise OfferRejected("bad_sdp", "the offer has no DTLS fingerprint")
        video = [m for m in parsed.media if m.kind == "video" and m.port != 0]
        return cls(
            hears_replies=any(m.direction in ("sendrecv", "recvonly") for m in audio),
            sends_video=any(m.direction in ("sendrecv", "sendonly") for m in video),
        )


class PeerSession:
    """RTCPeerConnection for one device session; closes itself on failed/closed."""

    def __init__(
        self,
        device_id: str,
        session_id: str,
        voice: VoiceSession,
        *,
        ice_servers: list[str],
        jitter_frames: int,
        status_payload: bytes,
        audio: bool = True,
        camera: bool = False,
        video_sink: FrameSink | None = None,
        video_config: VideoConfig | None = None,
        on_closed: Callable[[PeerSession], Awaitable[None]],
        on_connected: Callable[[PeerSession], None] | None = None,
        logger: logging.LoggerAdapter[logging.Logger],
        host: PeerSession | None = None,
    ) -> None:
        self.device_id = device_id
        self.session_id = session_id
        self.voice = voice
        self.host = host
        """Set on a microphone session: the device's session whose voice (and speaker) it feeds."""
        self.microphone: PeerSession | None = None
        """A microphone session feeding this session's voice: its own audio is not listened to."""
        self.status_payload = status_payload
        """The device status message that opened this session."""
        self.log = logger
        self._on_closed = on_closed
        self._on_connected = on_connected
        self._jitter_frames = jitter_frames
        self.audio = audio
        self.camera = camera
        self._video_sink = video_sink
        self._video_config = video_config
        self.video_consumer: CameraVideoConsumer | None = None
        self.pc = RTCPeerConnection(ice_configuration(ice_servers))
        self._tasks = TaskSet(_LOGGER)
        self._closing = False
        self.close_reason = ""
        self.answered = False
        self.over_http = False
        """Opened by a client's offer over HTTP (WHIP) rather than by an MQTT status."""
        self.connected = asyncio.Event()
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)

    async def create_offer(self) -> str:
        """Add audio (and camera video) transceivers, gather candidates, return the full SDP."""
        if self.audio:
            transceiver = self.pc.addTransceiver(self.voice.track, direction="sendrecv")
            set_jitter_depth(transceiver.receiver, self._jitter_frames)
        if self.camera:
            self.pc.addTransceiver("video", direction="recvonly")
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        return str(self.pc.localDescription.sdp)

    async def accept_offer(self, sdp: str, media: OfferMedia) -> str:
        """Answer a client's offer (WHIP): full SDP with every candidate gathered.

        Raises OfferRejected for an offer aiortc cannot use; the caller closes the session.
        """
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as err:
            raise OfferRejected("bad_sdp", f"SDP offer rejected: {err}") from None
        audio = [t for t in self.pc.getTransceivers() if t.kind == "audio"]
        first = audio[0]
        first.direction = "sendrecv" if media.hears_replies else "recvonly"
        if media.hears_replies:
            first.sender.replaceTrack(self.voice.track)
        elif self.host is None:  # nobody listens: replies play into the void and finish
            self._spawn(self._drain(self.voice.track))
        set_jitter_depth(first.receiver, self._jitter_frames)
        for transceiver in self.pc.getTransceivers():
            if transceiver is not first:
                transceiver.direction = "recvonly"
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(
            RTCSessionDescription(dtls_passive(answer.sdp, sdp), "answer")
        )
        self.answered = True
        return str(self.pc.localDescription.sdp)

    async def apply_answer(self, sdp: str) -> None:
        """Raises ValueError/InvalidStateError for an unusable answer; the session stays as is."""
        if self.answered:
            raise ValueError("session already has an answer")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        self.answered = True
        self.log.info("answer applied")

    async def add_ice_candidate(
        self, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        """Apply one trickled candidate from the device (an empty one means end of candidates)."""
        text = candidate.removeprefix("a=").removeprefix("candidate:")
        if not text.strip():
            return
        parsed = candidate_from_sdp(text)
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        await self.pc.addIceCandidate(parsed)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video" and self._video_sink is not None and self.video_consumer is None:
            capabilities = [Capability.CAMERA] if self.camera else []
            self.video_consumer = attach_video_track(
                track, self.device_id, capabilities, self._video_sink, self._video_config
            )
            return
        if track.kind != "audio":
            self.log.info("draining unexpected %s track", track.kind)
            self._spawn(self._drain(track))
            return
        self.log.info("receiving audio")
        self._spawn(self._receive(track))

    async def _receive(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.microphone is not None:
                continue  # the device's microphone session speaks for it
            try:
                await self.voice.feed(to_mono(frame))  # type: ignore[arg-type]
            except Exception:
                self.log.exception("audio frame dropped")

    async def _drain(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(coro, name=f"{self.device_id} media")

    @property
    def speaks(self) -> bool:
        """A live session of a device that plays replies (a microphone session may join it)."""
        return (
            self.host is None
            and self.audio
            and self.voice.speaker
            and not self._closing
            and self.state in ("new", "connecting", "connected")
        )

    async def join(self, host: PeerSession) -> None:
        """Become `host`'s microphone: this session's own voice ends, its audio feeds host's."""
        if self.host is None:
            await self.voice.close()
        self.host, self.voice = host, host.voice
        host.microphone = self
        self.log.info("now the microphone of session %s", host.session_id)

    async def _on_state(self) -> None:
        state = self.pc.connectionState
        self.log.info("connection %s", state)
        if state == "connected" and not self.connected.is_set():
            self.connected.set()
            if self._on_connected is not None:
                self._on_connected(self)
        elif state in ("failed", "closed"):
            await self.close(reason=str(state))

    async def close(self, reason: str = "closed by gateway") -> None:
        """Idempotent: stop tasks, voice, and the peer connection; then tell the owner.

        `reason` is 'failed' or 'closed' when the connection ended by itself.
        """
        if self._closing:
            return
        self._closing = True
        self.close_reason = reason
        if self.microphone is not None:
            await self.microphone.close(reason=f"speaker session {reason}")
        if self.host is None:
            await self.voice.close()
        elif self.host.microphone is self:
            self.host.microphone = None
        if self.video_consumer is not None:
            await self.video_consumer.stop()
        if self.pc.signalingState != "closed":
            await self.pc.close()
        # else aiortc closes it already (its own task, once DTLS ended): awaiting that close
        # awaits aiortc's shared future, which a cancelled wait (stop() cancelling this
        # handler) would cancel, failing aiortc's task ("Task exception was never retrieved")
        await self._tasks.close()
        self.log.info("session closed (%s)", reason)
        await self._on_closed(self)
