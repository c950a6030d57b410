"""Command line: the flag groups of ServerSettings (flags win over the environment)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import replace

from naila_protocol.settings import SettingsParser

from .settings import ServerSettings


def build_parser() -> SettingsParser:
    parser = SettingsParser(
        ServerSettings,
        prog="naila-server",
        description="NAILA AI server: STT -> LLM -> TTS for gateways (audio socket) "
        "and Home Assistant (Wyoming), vision over MQTT.",
    )
    parser.add_argument("--debug", action="store_true", help="same as --log-level DEBUG")
    return parser


def settings_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ServerSettings:
    """The tree from flags parsed by build_parser() and the environment."""
    settings: ServerSettings = build_parser().settings_from(args, environ)
    return replace(settings, log_level="DEBUG") if args.debug else settings


def parse_settings(argv: Sequence[str] | None = None) -> ServerSettings:
    """Parse the command line (exits with a usage error on a bad flag or variable)."""
    return settings_from_args(build_parser().parse_args(argv))
