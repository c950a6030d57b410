"""Assemble and run the AI server: engines, pipeline, vision, routing, audio socket, Wyoming, MQTT."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from importlib.metadata import version
from typing import Any

from wyoming.server import AsyncServer, AsyncTcpServer

from naila_protocol.mqtt import Incoming
from naila_protocol.topics import Topics

from .audio_socket import AudioSocketServer
from .engines import Engines, load_engines
from .gateway_connection import VideoHandler
from .mqtt_status import MqttStatus
from .pipeline import ContextProvider, Pipeline, RequestInfo
from .routing.router import HaRouter
from .settings import DEFAULT_WYOMING_URI, ServerSettings
from .turn_detector import TurnDetector
from .vision.service import VisionService
from .wyoming_handler import NailaEventHandler
from .wyoming_info import build_info
from .wyoming_zeroconf import WyomingAnnouncement

__all__ = ["DEFAULT_WYOMING_URI", "NailaServer", "ServerSettings"]

_LOGGER = logging.getLogger(__name__)
WYOMING_VERSIONS = ("1.",)
"""wyoming releases whose AsyncTcpServer keeps its asyncio.Server in `_server` (`bound_port`,
pinned by tests/server/test_wyoming.py)."""


def bound_port(server: AsyncTcpServer) -> int:
    """The port a started Wyoming TCP server listens on (its URI may say 0).

    wyoming has no public accessor; its server object is read only on the releases checked.
    """
    installed = version("wyoming")
    if not installed.startswith(WYOMING_VERSIONS):
        raise RuntimeError(f"wyoming {installed}: bound port unknown (checked: 1.x)")
    listening = getattr(server, "_server", None)
    if not isinstance(listening, asyncio.Server) or not listening.sockets:
        raise RuntimeError("Wyoming server not started")
    return int(listening.sockets[0].getsockname()[1])


class NailaServer:
    """The running AI server. `await start()`, then `port`/`wyoming_port`, `await stop()`.

    Builds what `settings` ask for: engines (unless given), vision (when enabled; a missing
    model raises models.ModelNotFoundError from `start()`), one MQTT link for status, metrics,
    conversation routing and vision, the audio socket and the Wyoming server.
    `context_provider`/`video_handler` replace vision's hooks (tests).
    """

    def __init__(
        self,
        settings: ServerSettings,
        engines: Engines | None = None,
        context_provider: ContextProvider | None = None,
        video_handler: VideoHandler | None = None,
    ) -> None:
        self.settings = settings
        self.engines = engines
        self._owns_engines = engines is None
        self.context_provider = context_provider
        self.video_handler = video_handler
        self.vision: VisionService | None = None
        self.pipeline: Pipeline | None = None
        self.audio_socket: AudioSocketServer | None = None
        self.wyoming: AsyncServer | None = None
        self.mqtt: MqttStatus | None = None
        self.router: HaRouter | None = None
        self._zeroconf: WyomingAnnouncement | None = None

    @property
    def port(self) -> int:
        """Bound audio socket port."""
        assert self.audio_socket is not None, "server not started"
        return self.audio_socket.port

    @property
    def wyoming_port(self) -> int:
        assert isinstance(self.wyoming, AsyncTcpServer), "no Wyoming TCP server"
        return bound_port(self.wyoming)

    async def start(self) -> None:
        settings = self.settings
        if self.engines is None:
            self.engines = await asyncio.to_thread(
                load_engines, settings.stt, settings.llm, settings.tts, settings.runners
            )
        if settings.vision.enabled:
            self.vision = await asyncio.to_thread(self._build_vision, self.engines)
        vision = self.vision
        context = self.context_provider or (vision.context_provider if vision else None)
        video = self.video_handler or (vision.video_frame_handler if vision else None)
        self.pipeline = Pipeline(self.engines, settings.pipeline, context_provider=context)
        if settings.mqtt.host:
            self._start_mqtt(with_vision=video is not None)
        elif vision is not None:
            _LOGGER.info("vision without MQTT: camera frames and visual context only")
        turn = None
        if settings.turn.enabled:
            turn = await asyncio.to_thread(TurnDetector.load, settings.turn)
        self.audio_socket = AudioSocketServer(
            self.pipeline,
            settings.audio_socket,
            settings.speculation,
            observer=self._observe,
            video_handler=video,
            router=self.router,
            turn=turn,
        )
        await self.audio_socket.start()
        if settings.wyoming_address:
            await self._start_wyoming(settings.wyoming_address)

    def _build_vision(self, engines: Engines) -> VisionService | None:
        from .vision.wiring import wire_vision  # noqa: PLC0415 - loads detector models

        return wire_vision(self.settings.vision_config, engines)

    def _start_mqtt(self, *, with_vision: bool) -> None:
        """One link: status and metrics, conversation routing, vision (MQTT 5 when it runs)."""
        settings, vision = self.settings, self.vision
        self.router = self._make_router()
        subscriptions = self.router.subscriptions + (vision.subscriptions if vision else [])
        self.mqtt = MqttStatus(
            settings.mqtt,
            settings.server_id,
            ["stt", "llm", "tts"] + (["vision"] if with_vision else []),
            self._active_requests,
            subscriptions=subscriptions,
            on_message=self._on_message,
            on_state=vision.on_link_state if vision else None,
            mqtt5=vision is not None,
        )
        if vision is not None:
            vision.bind(self.mqtt.link)
            vision.start()
        self.mqtt.start()

    def _on_message(self, message: Incoming) -> None:
        """Each reader takes the topics it subscribed to and ignores the rest."""
        if self.router is not None:
            self.router.handle(message)
        if self.vision is not None:
            self.vision.on_message(message)

    def _make_router(self) -> HaRouter:
        """Conversation routing on the server's one MQTT link; it also names devices to the LLM."""
        assert self.pipeline is not None
        router = HaRouter(
            self.settings.routing, Topics(self.settings.mqtt.prefix), self._publish, self._mqtt_up
        )
        self.pipeline.facts = router.prompt_facts
        return router

    def _publish(self, topic: str, payload: bytes) -> None:
        if self.mqtt is not None:
            self.mqtt.publish(topic, payload)

    def _mqtt_up(self) -> bool:
        return self.mqtt is not None and self.mqtt.connected.is_set()

    async def _start_wyoming(self, uri: str) -> None:
        assert self.engines is not None and self.pipeline is not None
        info = build_info(self.engines)
        self.wyoming = AsyncServer.from_uri(uri)
        await self.wyoming.start(partial(NailaEventHandler, info, self.pipeline))
        if isinstance(self.wyoming, AsyncTcpServer):
            _LOGGER.info("Wyoming server listening on %s:%d", self.wyoming.host, self.wyoming_port)
            if self.settings.zeroconf:
                self._zeroconf = WyomingAnnouncement(self.settings.zeroconf, self.wyoming_port)
                await self._zeroconf.register()

    def _active_requests(self) -> int:
        return self.audio_socket.active_requests if self.audio_socket else 0

    def _observe(self, info: RequestInfo, summary: Any) -> None:
        if self.mqtt is not None:
            self.mqtt.record(info, summary)

    async def stop(self) -> None:
        """Stop serving, publish offline, release vision and the engines."""
        if self.wyoming is not None:
            await self.wyoming.stop()
        if self.audio_socket is not None:
            await self.audio_socket.close()
        if self._zeroconf is not None:
            await self._zeroconf.close()
        if self.vision is not None:
            await self.vision.close()
        if self.mqtt is not None:
            await self.mqtt.close()
        if self.vision is not None:
            await self.vision.release()
        if self._owns_engines and self.engines is not None:
            await asyncio.to_thread(self.engines.close)

    async def serve_forever(self) -> None:
        """Start and run until cancelled."""
        try:
            await self.start()
            await asyncio.Event().wait()
        finally:
            await self.stop()
