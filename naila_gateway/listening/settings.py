"""Listening settings of the gateway: defaults for devices that choose nothing, and the windows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from naila_protocol.settings import load_settings, ranged, setting
from naila_protocol.vocab import (
    DEFAULT_FOLLOW_UP_SECONDS,
    DEFAULT_LISTENING_MODE,
    DEFAULT_WAKE_WORD,
    ListeningMode,
    WakeWord,
)

_GROUP = "Listening (wake word, push-to-talk, follow-up)"


@dataclass(frozen=True, slots=True)
class ListeningSettings:
    """When a device's speech goes to the AI server (docs/gateway.md "Listening modes")."""

    listening_mode: ListeningMode = setting(
        DEFAULT_LISTENING_MODE,
        env="LISTENING_MODE",
        flag="--listening-mode",
        group=_GROUP,
        choices=list(ListeningMode),
        parse=ListeningMode,
        help="mode of devices that choose none",
    )
    wake_word: WakeWord = setting(
        DEFAULT_WAKE_WORD,
        env="WAKE_WORD",
        flag="--wake-word",
        group=_GROUP,
        choices=list(WakeWord),
        parse=WakeWord,
        help="wake word model of devices that choose none",
    )
    follow_up_seconds: float = setting(
        DEFAULT_FOLLOW_UP_SECONDS,
        env="LISTENING_FOLLOW_UP_SECONDS",
        flag="--follow-up-seconds",
        group=_GROUP,
        parse=ranged(float, 0.0, 60.0),
        help="seconds after a reply finished playing during which speech needs no trigger",
    )
    command_seconds: float = setting(
        5.0,
        env="WAKE_WORD_COMMAND_SECONDS",
        flag="--command-seconds",
        group=_GROUP,
        parse=ranged(float, 0.0, 60.0),
        help="seconds after a lone wake word during which the command may start",
    )
    wake_preroll_seconds: float = setting(
        0.3,
        env="WAKE_WORD_PREROLL_SECONDS",
        flag="--wake-preroll-seconds",
        group=_GROUP,
        parse=ranged(float, 0.0, 2.0),
        help="seconds of audio before the wake detection kept with a one-breath command",
    )

    def __post_init__(self) -> None:
        for name in ("follow_up_seconds", "command_seconds"):
            if not 0.0 <= getattr(self, name) <= 60.0:
                raise ValueError(f"{name} must be between 0 and 60 seconds")
        if not 0.0 <= self.wake_preroll_seconds <= 2.0:
            raise ValueError("wake_preroll_seconds must be between 0 and 2 seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ListeningSettings:
        """Defaults overridden by the variables that are set (SettingError names one)."""
        return load_settings(cls, environ)
