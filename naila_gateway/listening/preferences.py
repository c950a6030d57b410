"""Each device's listening mode and wake word, from its status, its settings and commands."""

from __future__ import annotations

from dataclasses import dataclass

from naila_protocol.vocab import ListeningMode, WakeWord


@dataclass(frozen=True, slots=True)
class ListeningChoice:
    """What one device listens for."""

    mode: ListeningMode
    wake_word: WakeWord


class ListeningPreferences:
    """Per device and per field the latest source wins: status, retained settings, or a command.

    A status counts only when its own values change (a device re-sends the same status on
    every MQTT reconnect; that must not undo a choice made in Home Assistant since).
    """

    def __init__(self, mode: ListeningMode, wake_word: WakeWord) -> None:
        self.default = ListeningChoice(mode, wake_word)
        self._modes: dict[str, ListeningMode] = {}
        self._words: dict[str, WakeWord] = {}
        self._status: dict[str, tuple[ListeningMode | None, WakeWord | None]] = {}

    def of(self, device_id: str) -> ListeningChoice:
        return ListeningChoice(
            self._modes.get(device_id, self.default.mode),
            self._words.get(device_id, self.default.wake_word),
        )

    def from_status(
        self, device_id: str, mode: ListeningMode | None, wake_word: WakeWord | None
    ) -> bool:
        """A device status; True if the device's choice changed."""
        if self._status.get(device_id) == (mode, wake_word):
            return False
        self._status[device_id] = (mode, wake_word)
        return self.choose(device_id, mode, wake_word)

    def choose(
        self, device_id: str, mode: ListeningMode | None, wake_word: WakeWord | None
    ) -> bool:
        """Settings or a command (None: not set there); True if the device's choice changed."""
        before = self.of(device_id)
        if mode is not None:
            self._modes[device_id] = mode
        if wake_word is not None:
            self._words[device_id] = wake_word
        return self.of(device_id) != before

    def forget(self, device_id: str) -> None:
        """The device was removed (empty retained status)."""
        for table in (self._modes, self._words, self._status):
            table.pop(device_id, None)
