"""Assemble and run the AI server: engines, pipeline, audio socket, Wyoming, MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from wyoming.server import AsyncServer, AsyncTcpServer

from naila_protocol.mqtt import MqttSettings
from naila_protocol.settings import nested, setting
from naila_protocol.topics import DEFAULT_SERVER_ID, Topics

from .audio_socket import AudioSocketServer, AudioSocketSettings
from .engines import Engines, RunnerSettings, load_engines
from .gateway_connection import VideoHandler
from .llm import LlmSettings
from .mqtt_status import MqttStatus
from .pipeline import ContextProvider, Pipeline, PipelineSettings, RequestInfo
from .routing.router import HaRouter
from .routing.settings import RoutingSettings
from .speculative import SpeculationSettings
from .stt import SttSettings
from .tts import TtsSettings
from .turn_detector import TurnDetector, TurnSettings
from .vision.config import VisionConfig
from .wyoming_handler import NailaEventHandler
from .wyoming_info import build_info

_LOGGER = logging.getLogger(__name__)

DEFAULT_WYOMING_URI = "tcp://0.0.0.0:10300"
ZEROCONF_NAME = "naila"
"""Name announced by `--zeroconf` without a value."""
_WYOMING, _MQTT = "Wyoming (Home Assistant)", "MQTT"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The AI server's settings tree; defaults run the packaged models."""

    audio_socket: AudioSocketSettings = nested(AudioSocketSettings)
    speculation: SpeculationSettings = nested(SpeculationSettings)
    turn: TurnSettings = nested(TurnSettings)
    wyoming: bool = setting(
        True, env="WYOMING_ENABLED", flag="--wyoming", group=_WYOMING, help="run the Wyoming server"
    )
    wyoming_uri: str | None = setting(
        DEFAULT_WYOMING_URI,
        env="WYOMING_URI",
        flag="--uri",
        group=_WYOMING,
        help="tcp://HOST:PORT or unix://PATH (none = no Wyoming server)",
    )
    zeroconf: str | None = setting(
        None,
        env="WYOMING_ZEROCONF",
        flag="--zeroconf",
        const=ZEROCONF_NAME,
        group=_WYOMING,
        help=f"announce the Wyoming server over mDNS under this name ({ZEROCONF_NAME} if none given)",
    )
    mqtt: MqttSettings = nested(MqttSettings, host=None)
    """MQTT is optional on the server: no host, no status, metrics or vision."""
    server_id: str = setting(
        DEFAULT_SERVER_ID,
        env="SERVER_ID",
        group=_MQTT,
        help="id of this server in {prefix}/server/... topics",
    )
    stt: SttSettings = nested(SttSettings)
    llm: LlmSettings = nested(LlmSettings)
    tts: TtsSettings = nested(TtsSettings)
    pipeline: PipelineSettings = nested(PipelineSettings)
    runners: RunnerSettings = nested(RunnerSettings)
    vision: VisionConfig = nested(VisionConfig)
    routing: RoutingSettings = nested(RoutingSettings)
    """Home Assistant first for device utterances (needs MQTT and the NAILA integration)."""
    log_level: str = setting(
        "INFO", env="LOG_LEVEL", group="logging", help="DEBUG, INFO, WARNING, ..."
    )

    @property
    def wyoming_address(self) -> str | None:
        """Where the Wyoming server listens; None when it is off."""
        return self.wyoming_uri if self.wyoming else None

    @property
    def vision_config(self) -> VisionConfig:
        """Vision settings with this server's topic prefix and id."""
        return replace(self.vision, prefix=self.mqtt.prefix, server_id=self.server_id)


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
                settings.server_id,
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
        if settings.wyoming_address:
            await self._start_wyoming(settings.wyoming_address)

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
