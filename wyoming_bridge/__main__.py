"""`python -m wyoming_bridge` / `naila-server`: run the AI server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import TYPE_CHECKING

from naila_protocol.process import run_until_stopped

from .cli import parse_settings

if TYPE_CHECKING:
    from .app import ServerSettings
    from .engines import Engines
    from .vision.service import VisionService

_LOGGER = logging.getLogger("wyoming_bridge")


async def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Heavy imports only after --help.
    from .app import NailaServer  # noqa: PLC0415
    from .engines import load_engines  # noqa: PLC0415
    from .models import ModelNotFoundError  # noqa: PLC0415

    try:
        engines = await asyncio.to_thread(
            load_engines, settings.stt, settings.llm, settings.tts, settings.runners
        )
    except ModelNotFoundError as err:
        _LOGGER.error("%s", err)
        return 2
    vision = await asyncio.to_thread(_wire_vision, settings, engines)
    server = NailaServer(
        settings,
        engines,
        context_provider=vision.context_provider if vision else None,
        video_handler=vision.video_frame_handler if vision else None,
    )
    vision_task = None
    if vision is not None and settings.mqtt.host:
        from .vision.wiring import run_vision  # noqa: PLC0415

        mqtt = settings.mqtt
        vision_task = asyncio.create_task(
            run_vision(
                vision,
                mqtt.host or "",
                mqtt.port,
                mqtt.username,
                mqtt.password,
                tls_context=mqtt.ssl_context(),
            )
        )
    try:
        await server.serve_forever()
    finally:
        if vision_task is not None:
            vision_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await vision_task
        await asyncio.to_thread(engines.close)
    return 0


def _wire_vision(settings: ServerSettings, engines: Engines) -> VisionService | None:
    """The vision service when it is on (loads its detector models)."""
    from .vision.wiring import wire_vision  # noqa: PLC0415

    return wire_vision(settings.vision_config, engines)


def run() -> None:
    sys.exit(run_until_stopped(main()) or 0)


if __name__ == "__main__":
    run()
