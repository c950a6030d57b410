"""Command line: the flag groups of GatewayConfig (flags win over the environment)."""

from __future__ import annotations

from collections.abc import Sequence

from naila_gateway.config import GatewayConfig
from naila_protocol.settings import SettingsParser


def build_parser() -> SettingsParser:
    return SettingsParser(
        GatewayConfig,
        prog="naila-gateway",
        description="NAILA gateway: WebRTC voice devices <-> MQTT signaling <-> AI server.",
    )


def config_from_args(argv: Sequence[str] | None = None) -> GatewayConfig:
    """Environment, then flags; validated. Exits with a usage error on bad values."""
    parser = build_parser()
    config: GatewayConfig = parser.parse_settings(argv)
    try:
        config.validate()
    except ValueError as err:
        parser.error(str(err))
    return config
