"""Bounded per-conversation chat history with expiry."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Conversation:
    turns: list[tuple[str, str]] = field(default_factory=list)
    updated: float = 0.0


class ConversationMemory:
    """Last `max_turns` (user, assistant) pairs per conversation id.

    Conversations idle for `ttl_s` are forgotten; at most `max_conversations` are kept
    (least recently used dropped first). Used from the event loop only.
    """

    def __init__(
        self,
        max_turns: int = 4,
        ttl_s: float = 300.0,
        max_conversations: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_turns = max_turns
        self.ttl_s = ttl_s
        self.max_conversations = max_conversations
        self._clock = clock
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()

    def history(self, conversation_id: str) -> list[tuple[str, str]]:
        """Turns still remembered for this conversation, oldest first."""
        self._expire()
        conversation = self._conversations.get(conversation_id)
        return list(conversation.turns) if conversation else []

    def add(self, conversation_id: str, user: str, assistant: str) -> None:
        self._expire()
        conversation = self._conversations.pop(conversation_id, None) or _Conversation()
        conversation.turns.append((user, assistant))
        del conversation.turns[: -self.max_turns or None]
        conversation.updated = self._clock()
        self._conversations[conversation_id] = conversation
        while len(self._conversations) > self.max_conversations:
            self._conversations.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        self._conversations.pop(conversation_id, None)

    def __len__(self) -> int:
        self._expire()
        return len(self._conversations)

    def _expire(self) -> None:
        deadline = self._clock() - self.ttl_s
        while self._conversations:
            oldest_id, oldest = next(iter(self._conversations.items()))
            if oldest.updated >= deadline:
                break
            del self._conversations[oldest_id]
