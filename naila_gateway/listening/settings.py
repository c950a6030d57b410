"""Listening settings of the gateway: defaults for devices that choose nothing, and the windows."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from naila_protocol.vocab import (
    DEFAULT_FOLLOW_UP_SECONDS,
    DEFAULT_LISTENING_MODE,
    DEFAULT_WAKE_WORD,
    ListeningMode,
    WakeWord,
)


@dataclass(frozen=True, slots=True)
class ListeningSettings:
    """When a device's speech goes to the AI server (docs/gateway.md "Listening modes")."""

    listening_mode: ListeningMode = DEFAULT_LISTENING_MODE
    """Mode of a device that names none (status, settings or command)."""
    wake_word: WakeWord = DEFAULT_WAKE_WORD
    """Wake word model of a device that names none."""
    follow_up_seconds: float = DEFAULT_FOLLOW_UP_SECONDS
    """After a reply finished playing, speech starting within this many seconds needs no trigger."""
    command_seconds: float = 5.0
    """After a wake word said alone, the command may start within this many seconds."""
    wake_preroll_seconds: float = 0.3
    """Audio before the detection kept at the start of a one-breath command."""

    def __post_init__(self) -> None:
        for name in ("follow_up_seconds", "command_seconds"):
            if not 0.0 <= getattr(self, name) <= 60.0:
                raise ValueError(f"{ENV[name]} must be between 0 and 60 seconds")
        if not 0.0 <= self.wake_preroll_seconds <= 2.0:
            raise ValueError(f"{ENV['wake_preroll_seconds']} must be between 0 and 2 seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ListeningSettings:
        """Defaults overridden by the variables that are set and non-empty (ValueError names one)."""
        env = os.environ if environ is None else environ
        return cls.parse({name: env.get(variable, "") for name, variable in ENV.items()})

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> ListeningSettings:
        """Build from the flags added by add_listening_arguments (unset flags: the environment)."""
        base = cls.from_env()
        given = {f.name: getattr(args, f"listening_{f.name}", None) for f in fields(cls)}
        merged = {name: value for name, value in given.items() if value is not None}
        return cls(**{**{f.name: getattr(base, f.name) for f in fields(cls)}, **merged})

    @classmethod
    def parse(cls, raw: Mapping[str, str]) -> ListeningSettings:
        values: dict[str, Any] = {}
        for name, text in raw.items():
            if text == "":
                continue
            try:
                values[name] = _PARSERS[name](text)
            except ValueError as err:
                raise ValueError(f"{ENV[name]}: {err}") from None
        return cls(**values)


ENV = {
    "listening_mode": "LISTENING_MODE",
    "wake_word": "WAKE_WORD",
    "follow_up_seconds": "LISTENING_FOLLOW_UP_SECONDS",
    "command_seconds": "WAKE_WORD_COMMAND_SECONDS",
    "wake_preroll_seconds": "WAKE_WORD_PREROLL_SECONDS",
}
_PARSERS: dict[str, Callable[[str], Any]] = {
    "listening_mode": ListeningMode,
    "wake_word": WakeWord,
    "follow_up_seconds": float,
    "command_seconds": float,
    "wake_preroll_seconds": float,
}
_HELP = {
    "listening_mode": f"mode of devices that choose none: {'|'.join(ListeningMode)}",
    "wake_word": f"wake word of devices that choose none: {'|'.join(WakeWord)}",
    "follow_up_seconds": "seconds after a reply during which speech needs no wake word",
    "command_seconds": "seconds after a lone wake word during which the command may start",
    "wake_preroll_seconds": "seconds of audio before the wake detection kept with the command",
}


def add_listening_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The 'listening' flag group; a flag left out keeps the environment's value."""
    defaults = ListeningSettings()
    group = parser.add_argument_group("Listening (wake word, push-to-talk, follow-up)")
    for name, variable in ENV.items():
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=f"listening_{name}",
            type=_PARSERS[name],
            default=None,
            metavar=variable,
            help=f"{_HELP[name]} [env {variable}, default {getattr(defaults, name)}]",
        )
    return group
