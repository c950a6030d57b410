"""Settings of conversation routing (one frozen dataclass, defaults written once)."""

from __future__ import annotations

from dataclasses import dataclass

from naila_protocol.settings import setting

DEFAULT_HA_TIMEOUT_S = 1.5
"""How long a final transcript waits for Home Assistant before the LLM answers.

Measured here (bench/ha_commands.py): the round trip server -> mosquitto -> integration ->
HA's default agent -> server has a median of tens of milliseconds and stays well under 0.5 s
on a busy two-core machine; an LLM agent picked in HA takes seconds. 1.5 s keeps HA's
default agent always in time and bounds what an unanswered request costs (the LLM reply runs
meanwhile, so its audio is ready the moment the deadline passes)."""
DEFAULT_UNREACHABLE_SPEECH = "Sorry, I could not reach Home Assistant."


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """How the AI server hands final transcripts to Home Assistant."""

    enabled: bool = setting(
        True,
        env="HA_ROUTING",
        flag="--ha-routing",
        group="MQTT",
        help="ask Home Assistant's agent first (--no-ha-routing: the LLM answers every device)",
    )
    ha_timeout_s: float = setting(
        DEFAULT_HA_TIMEOUT_S,
        env="HA_TIMEOUT",
        flag="--ha-timeout",
        group="MQTT",
        help="seconds a final transcript waits for Home Assistant's agent before the LLM answers",
    )
    unreachable_speech: str = DEFAULT_UNREACHABLE_SPEECH
    """Spoken to a device set to `ha_only` when HA did not answer or did not handle it."""
    language: str = "en"
    """Language sent with requests when the request itself names none."""
    conversation_ttl_s: float = 300.0
    """HA's conversation id of a device is reused for follow-ups within this time."""
