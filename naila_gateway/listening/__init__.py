"""Listening modes of voice devices: wake word, push-to-talk, always; follow-up windows."""

from naila_gateway.listening.listener import Listener
from naila_gateway.listening.preferences import ListeningChoice, ListeningPreferences
from naila_gateway.listening.settings import ListeningSettings

__all__ = [
    "Listener",
    "ListeningChoice",
    "ListeningPreferences",
    "ListeningSettings",
]
