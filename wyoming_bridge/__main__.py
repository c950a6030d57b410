"""`python -m wyoming_bridge` / `naila-server`: run the AI server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from .cli import build_parser, settings_from_args

_LOGGER = logging.getLogger("wyoming_bridge")


async def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .app import NailaServer  # noqa: PLC0415 - heavy imports only after --help
    from .models import ModelNotFoundError  # noqa: PLC0415

    server = NailaServer(settings_from_args(args))
    try:
        await server.serve_forever()
    except ModelNotFoundError as err:
        _LOGGER.error("%s", err)
        return 2
    return 0


def run() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main()))


if __name__ == "__main__":
    run()
