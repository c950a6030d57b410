"""Builds a device's sessions: its voice (VoiceSession) and the peer connection carrying it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from naila_gateway.config import GatewayConfig
from naila_gateway.end_of_turn import EndOfTurnMode
from naila_gateway.listening import ListeningPreferences
from naila_gateway.metrics import GatewayMetrics
from naila_gateway.peer import PeerSession, SessionLogger
from naila_gateway.server_client import ServerClient
from naila_gateway.signaling import parse_status
from naila_gateway.turn_audio import SmartTurnJudge
from naila_gateway.voice import VoiceSession

_LOGGER = logging.getLogger("naila_gateway.gateway")
"""Session lines keep the gateway's logger name (`[device/session]` prefixed)."""


class SessionFactory:
    """New sessions of one gateway, each handed the gateway's server link, settings and hooks."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        server: ServerClient,
        metrics: GatewayMetrics,
        listening: ListeningPreferences,
        publish_event: Callable[..., None],
        on_closed: Callable[[PeerSession], Awaitable[None]],
    ) -> None:
        self.config = config
        self.server = server
        self.smart_turn: SmartTurnJudge | None = None
        """AUDIO_END_OF_TURN=smart_turn: the Smart Turn model every device shares."""
        self.metrics = metrics
        self.listening = listening
        self._publish_event = publish_event
        self._on_closed = on_closed

    async def start(self) -> None:
        """Load what sessions share (ModelNotFoundError names the package to install)."""
        if self.config.end_of_turn.mode is EndOfTurnMode.SMART_TURN and self.smart_turn is None:
            self.smart_turn = await asyncio.to_thread(SmartTurnJudge.load, self.config.end_of_turn)

    def stop(self) -> None:
        """After every session has closed."""
        if self.smart_turn is not None:
            self.smart_turn.close()
            self.smart_turn = None

    def session(
        self, device_id: str, status_payload: bytes, *, audio: bool, camera: bool
    ) -> PeerSession:
        """A device's session with a voice of its own (a speaker if its status lists one)."""
        session_id = uuid.uuid4().hex[:12]
        log = SessionLogger(_LOGGER, {"device_id": device_id, "session_id": session_id})

        def publish(event: str, **fields: Any) -> None:
            self._publish_event(device_id, event, **fields)

        voice = VoiceSession(
            device_id,
            self.config,
            server=self.server,
            publish=publish,
            metrics=self.metrics,
            logger=log,
            listening=self.listening.of(device_id),
            speaker=parse_status(device_id, status_payload).has_speaker,
            smart_turn=self.smart_turn,
        )
        return self._peer(session_id, voice, status_payload, audio=audio, camera=camera, log=log)

    def microphone(self, host: PeerSession, *, camera: bool) -> PeerSession:
        """A microphone-only session joining `host`: its audio feeds host's voice, whose
        replies play on host's connection; it ends with `host`."""
        if host.microphone is not None:
            raise ValueError("the session already has a microphone")
        session_id = uuid.uuid4().hex[:12]
        log = SessionLogger(_LOGGER, {"device_id": host.device_id, "session_id": session_id})
        session = self._peer(
            session_id, host.voice, host.status_payload, audio=True, camera=camera, log=log
        )
        session.host = host
        host.microphone = session
        return session

    def _peer(
        self,
        session_id: str,
        voice: VoiceSession,
        status_payload: bytes,
        *,
        audio: bool,
        camera: bool,
        log: SessionLogger,
    ) -> PeerSession:
        return PeerSession(
            voice.device_id,
            session_id,
            voice,
            ice_servers=self.config.ice_servers,
            jitter_frames=self.config.jitter_frames,
            status_payload=status_payload,
            audio=audio,
            camera=camera,
            video_sink=self.server,
            video_config=self.config.video,
            on_closed=self._on_closed,
            on_connected=self._connected,
            logger=log,
        )

    def _connected(self, session: PeerSession) -> None:
        fields = {"microphone_of": session.host.session_id} if session.host is not None else {}
        self._publish_event(
            session.device_id, "session_started", session_id=session.session_id, **fields
        )
