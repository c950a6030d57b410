"""AI server fixtures: real models loaded once per session, servers on free ports of 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from wyoming_bridge.app import NailaServer, ServerSettings
from wyoming_bridge.audio_socket import AudioSocketSettings
from wyoming_bridge.engines import Engines, load_engines
from wyoming_bridge.gateway_connection import ConnectionLimits
from wyoming_bridge.llm import LlmSettings
from wyoming_bridge.pipeline import ContextProvider
from wyoming_bridge.stt import SttSettings
from wyoming_bridge.tts import TtsSettings

ServerFactory = Callable[..., Awaitable[NailaServer]]


@pytest.fixture(scope="session")
def engines() -> Iterator[Engines]:
    """The packaged Whisper tiny.en, SmolLM2-135M and Piper joe voice, loaded and warmed once."""
    loaded = load_engines(SttSettings(), LlmSettings(max_tokens=40), TtsSettings())
    yield loaded
    loaded.close()


@pytest.fixture
async def make_server(engines: Engines) -> AsyncIterator[ServerFactory]:
    """`await make_server(limits=ConnectionLimits(...), **audio_socket_fields)` -> started server.

    Audio socket and Wyoming both listen on free ports of 127.0.0.1 (`server.port`,
    `server.wyoming_port`). Other ServerSettings fields can be passed as `settings=`; vision
    runs only with `vision=True`.
    """
    servers: list[NailaServer] = []

    async def make(
        *,
        settings: ServerSettings | None = None,
        limits: ConnectionLimits | None = None,
        context_provider: ContextProvider | None = None,
        vision: bool = False,
        **socket_fields: Any,
    ) -> NailaServer:
        settings = settings or ServerSettings()
        settings = replace(
            settings,
            vision=replace(settings.vision, enabled=vision),
            wyoming_uri="tcp://127.0.0.1:0",
            audio_socket=AudioSocketSettings(
                host="127.0.0.1", port=0, limits=limits or ConnectionLimits(), **socket_fields
            ),
        )
        server = NailaServer(settings, engines, context_provider=context_provider)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(make_server: ServerFactory) -> NailaServer:
    """A server with default limits."""
    return await make_server()
