"""Split streamed LLM text into speakable pieces, emitting the first clause early."""

from __future__ import annotations

import re

_SENTENCE_END = ".!?…"
_CLAUSE_END = ",;:"
_MARKUP = re.compile(r"[*_#`~>\[\]]+")
_SPACES = re.compile(r"\s+")


def clean_for_speech(text: str) -> str:
    """Drop markdown symbols and collapse whitespace."""
    return _SPACES.sub(" ", _MARKUP.sub("", text)).strip()


class SentenceSplitter:
    """Feed text as it streams; get back whole sentences (and an early first clause).

    A sentence ends at . ! ? followed by whitespace or at a line break. Until the first
    piece has been emitted, a clause ending in , ; : also counts once it holds at least
    `first_clause_words` words, so speech can start before the first sentence is done.
    Pieces longer than `max_words` words are cut at a space.
    """

    def __init__(self, first_clause_words: int = 4, max_words: int = 30) -> None:
        self.first_clause_words = first_clause_words
        self.max_words = max_words
        self._buffer = ""
        self._emitted = 0

    def feed(self, text: str) -> list[str]:
        """Add streamed text; return the pieces that are now complete."""
        self._buffer += text
        pieces: list[str] = []
        while (cut := self._find_cut()) is not None:
            piece = clean_for_speech(self._buffer[:cut])
            self._buffer = self._buffer[cut:]
            if piece and any(ch.isalnum() for ch in piece):
                pieces.append(piece)
                self._emitted += 1
        return pieces

    def flush(self) -> list[str]:
        """End of text: return what is left as a last piece."""
        piece = clean_for_speech(self._buffer)
        self._buffer = ""
        if piece and any(ch.isalnum() for ch in piece):
            self._emitted += 1
            return [piece]
        return []

    def _find_cut(self) -> int | None:
        text = self._buffer
        for index, char in enumerate(text[:-1]):
            following = text[index + 1]
            if char == "\n":
                return index + 1
            if not following.isspace():
                continue
            if char in _SENTENCE_END:
                return index + 1
            if (
                char in _CLAUSE_END
                and self._emitted == 0
                and len(text[:index].split()) >= self.first_clause_words
            ):
                return index + 1
        words = text.split(" ")
        if len(words) > self.max_words + 1:
            return len(" ".join(words[: self.max_words]))
        return None
