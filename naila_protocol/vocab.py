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


class DeviceCommand(StrEnum):
    """`devices/{id}/command` names (naila_protocol/commands.py has the payload)."""

    ANNOUNCE = "announce"
    """Speak `message` on the device (after `sound`, if given); `announced` when it finished."""
    START_CONVERSATION = "start_conversation"
    """Speak `message`, then listen for the answer without the wake word."""
    STOP = "stop"
    """Silence the device and cancel its requests."""
    TALK_START = "talk_start"
    """Push-to-talk pressed: what follows is an utterance (ends on `talk_end`)."""
    TALK_END = "talk_end"
    """Push-to-talk released: the utterance is complete."""
    SET_LISTENING = "set_listening"
    """Change `listening_mode` and/or `wake_word` until the next status, settings or command."""


class Sound(StrEnum):
    """Sounds the gateway plays on a device before an announcement's message."""

    CHIME = "chime"
    """The pre-announce chime."""
    TIMER = "timer"
    """A finished timer's alarm."""


WAKE_WORD_PHRASES = {
    WakeWord.OKAY_NABU: "Okay Nabu",
    WakeWord.HEY_JARVIS: "Hey Jarvis",
    WakeWord.ALEXA: "Alexa",
    WakeWord.HEY_MYCROFT: "Hey Mycroft",
}
"""What to say for each wake word model."""


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


class RouteReason(StrEnum):
    """Why a device's reply took its route (reply events and server metrics: `route_reason`)."""

    HANDLED = "handled"
    """Home Assistant's agent handled it (`action_done` or `query_answer`)."""
    NAILA_ONLY = "naila_only"
    """The device's conversation setting skips Home Assistant."""
    NOT_HANDLED = "not_handled"
    """HA answered but did not handle it (its `error_code`, when it gives one, is the reason)."""
    NO_INTENT_MATCH = "no_intent_match"
    NO_VALID_TARGETS = "no_valid_targets"
    FAILED_TO_HANDLE = "failed_to_handle"
    INTEGRATION_OFFLINE = "integration_offline"
    """No online integration (its retained status, or Home Assistant's own MQTT status)."""
    MQTT_DOWN = "mqtt_down"
    """The AI server has no broker connection (or no MQTT configured)."""
    TIMEOUT = "timeout"
    """No answer within the deadline."""
    BAD_RESPONSE = "bad_response"
    """The answer broke the contract (malformed, or for another device)."""


DEFAULT_LISTENING_MODE = ListeningMode.WAKE_WORD
DEFAULT_WAKE_WORD = WakeWord.OKAY_NABU
DEFAULT_FOLLOW_UP_SECONDS = 5.0
"""After a reply (or a start_conversation prompt) the device listens this long without a trigger."""
DEFAULT_CONVERSATION_MODE = ConversationMode.HA_THEN_NAILA
DEFAULT_CONVERSATION_AGENT = "conversation.home_assistant"
