"""Closed vocabularies of the wire contracts: every enumerated string value lives here once."""

from __future__ import annotations

from enum import StrEnum


class ListeningMode(StrEnum):
    """When a voice device's speech goes to the AI server (per device)."""

    WAKE_WORD = "wake_word"
    """Only speech that starts with the wake word (and speech in the follow-up window)."""
    ALWAYS = "always"
    """Every utterance the VAD finds."""
    PUSH_TO_TALK = "push_to_talk"
    """Only while the device holds the talk button."""


class WakeWord(StrEnum):
    """The microWakeWord models shipped in the pymicro-wakeword package."""

    OKAY_NABU = "okay_nabu"
    HEY_JARVIS = "hey_jarvis"
    ALEXA = "alexa"
    HEY_MYCROFT = "hey_mycroft"


class ConversationMode(StrEnum):
    """Who answers a device's final transcript."""

    HA_THEN_NAILA = "ha_then_naila"
    """Home Assistant's agent first; NAILA's LLM when HA does not handle it (default)."""
    HA_ONLY = "ha_only"
    NAILA_ONLY = "naila_only"


class DeviceState(StrEnum):
    """What a voice device is doing, as the gateway reports it (`state` device event)."""

    IDLE = "idle"
    LISTENING = "listening"
    PROCESSING = "processing"
    RESPONDING = "responding"


class ReplyRoute(StrEnum):
    """Who produced a reply (reply events and server metrics)."""

    HA = "ha"
    LLM = "llm"
    ANNOUNCE = "announce"


DEFAULT_LISTENING_MODE = ListeningMode.WAKE_WORD
DEFAULT_WAKE_WORD = WakeWord.OKAY_NABU
DEFAULT_CONVERSATION_MODE = ConversationMode.HA_THEN_NAILA
DEFAULT_CONVERSATION_AGENT = "conversation.home_assistant"
