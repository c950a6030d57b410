"""Assemble and run the AI server: engines, pipeline, audio socket, Wyoming, MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from wyoming.server import AsyncServer, AsyncTcpServer

from naila_protocol.topics import Topics

from .audio_socket import AudioSocketServer, AudioSocketSettings
from .engines import Engines, RunnerSettings, load_engines
from .gateway_connection import VideoHandler
from .llm import LlmSettings
from .mqtt_status import MqttSettings, MqttStatus
from .pipeline import ContextProvider, Pipeline, PipelineSettings, RequestInfo
from .routing.router import HaRouter
from .routing.settings import RoutingSettings
from .speculative import SpeculationSettings
from .stt import SttSettings
from .tts import TtsSettings
from .turn_detector import TurnDetector, TurnSettings
from .wyoming_handler import NailaEventHandler
from .wyoming_info import build_info

_LOGGER = logging.getLogger(__name__)

DEFAULT_WYOMING_URI = "tcp://0.0.0.0:10300"


@dataclass(slots=True)
class ServerSettings:
    """Everything the CLI configures; defaults run the packaged models."""

    stt: SttSettings = field(default_factory=SttSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    runners: RunnerSettings = field(default_factory=RunnerSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    speculation: SpeculationSettings = field(default_factory=SpeculationSettings)
    turn: TurnSettings = field(default_factory=TurnSettings)
    audio_socket: AudioSocketSettings = field(default_factory=AudioSocketSettings)
    wyoming_uri: str | None = DEFAULT_WYOMING_URI
    """None = no Wyoming server."""
    zeroconf: str | None = None
    """Announce the Wyoming server over mDNS under this name."""
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    """Home Assistant first for device utterances (needs MQTT and the NAILA integration)."""


class NailaServer:
    """The running AI server. `await start()`, then `port`/`wyoming_port`, `await stop()`."""

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
        self.pipeline: Pipeline | None = None
        self.audio_socket: AudioSocketServer | None = None
        self.wyoming: AsyncServer | None = None
        self.mqtt: MqttStatus | None = None
        self.router: HaRouter | None = None
        self._zeroconf: Any = None

    @property
    def port(self) -> int:
        """Bound audio socket port."""
        assert self.audio_socket is not None, "server not started"
        return self.audio_socket.port

    @property
    def wyoming_port(self) -> int:
        assert isinstance(self.wyoming, AsyncTcpServer), "no Wyoming TCP server"
        server = self.wyoming._server
        assert isinstance(server, asyncio.Server), "Wyoming server not started"
        return int(server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        settings = self.settings
        if self.engines is None:
            self.engines = await asyncio.to_thread(
                load_engines, settings.stt, settings.llm, settings.tts, settings.runners
            )
        self.pipeline = Pipeline(
            self.engines, settings.pipeline, context_provider=self.context_provider
        )
        if settings.mqtt.host:
            services = ["stt", "llm", "tts"] + (["vision"] if self.video_handler else [])
            self.router = self._make_router()
            self.mqtt = MqttStatus(
                settings.mqtt,
                services,
                self._active_requests,
                subscriptions=self.router.subscriptions,
                on_message=self.router.handle,
            )
            self.mqtt.start()
        turn = None
        if settings.turn.enabled:
            turn = await asyncio.to_thread(TurnDetector.load, settings.turn)
        self.audio_socket = AudioSocketServer(
            self.pipeline,
            settings.audio_socket,
            settings.speculation,
            observer=self._observe,
            video_handler=self.video_handler,
            router=self.router,
            turn=turn,
        )
        await self.audio_socket.start()
        if settings.wyoming_uri:
            await self._start_wyoming(settings.wyoming_uri)

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
                from wyoming.zeroconf import HomeAssistantZeroconf  # noqa: PLC0415 - optional

                self._zeroconf = HomeAssistantZeroconf(
                    name=self.settings.zeroconf, port=self.wyoming_port
                )
                await self._zeroconf.register_server()
                _LOGGER.info("Zeroconf discovery enabled as %s", self.settings.zeroconf)

    def _active_requests(self) -> int:
        return self.audio_socket.active_requests if self.audio_socket else 0

    def _observe(self, info: RequestInfo, summary: Any) -> None:
        if self.mqtt is not None:
            self.mqtt.record(info, summary)

    async def stop(self) -> None:
        if self.wyoming is not None:
            with contextlib.suppress(Exception):
                await self.wyoming.stop()
        if self.audio_socket is not None:
            await self.audio_socket.close()
        if self.mqtt is not None:
            await self.mqtt.close()
        if self._zeroconf is not None:
            with contextlib.suppress(Exception):
                await self._zeroconf._aiozc.async_close()
        if self._owns_engines and self.engines is not None:
            await asyncio.to_thread(self.engines.close)

    async def serve_forever(self) -> None:
        """Start and run until cancelled."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
