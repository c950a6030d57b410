"""`python -m wyoming_bridge` / `naila-server`: run the AI server."""

from __future__ import annotations

import logging
import sys

from naila_protocol.process import run_until_stopped

from .cli import parse_settings

_LOGGER = logging.getLogger("wyoming_bridge")


async def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Heavy imports only after --help.
    from .app import NailaServer  # noqa: PLC0415
    from .models import ModelNotFoundError  # noqa: PLC0415

    try:
        await NailaServer(settings).serve_forever()
    except ModelNotFoundError as err:
        _LOGGER.error("%s", err)
        return 2
    return 0


def run() -> None:
    sys.exit(run_until_stopped(main()) or 0)


if __name__ == "__main__":
    run()
