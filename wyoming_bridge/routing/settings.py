"""Settings of conversation routing (one frozen dataclass, defaults written once)."""

from __future__ import annotations

from dataclasses import dataclass

from naila_protocol.settings import setting

DEFAULT_HA_TIMEOUT_S = 1.5
"""How long a final transcript waits for Home Assistant before the LLM answers.

Measured here (bench/ha_commands.py, bench/README.md): the round trip server -> mosquitto ->
the NAILA integration -> HA's default agent -> server took a median of 36 ms (at most 376 ms)
on the two-core machine at a load of 3.5, and a median of 200 ms (at most 1.13 s) at a load of
about 20 (a scripted answer on the same broker takes under 10 ms). 1.5 s keeps HA's default agent in time even then, and costs little when
HA never answers: the LLM's reply is produced meanwhile, its audio ready when the deadline
passes. An LLM agent picked in HA can take longer: raise it for those (`--ha-timeout`)."""
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
