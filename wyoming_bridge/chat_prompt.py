"""Chat prompts as tokens: the model's own template, history fitted to a token budget,
and a guard that keeps a reply from copying the previous one."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

_LOGGER = logging.getLogger(__name__)

Message = dict[str, str]


class PromptTooLongError(ValueError):
    """Even without any history the prompt does not fit the context."""


@dataclass(frozen=True, slots=True)
class ChatPrompt:
    """A rendered prompt: its tokens, the messages that made it and where to stop."""

    tokens: list[int]
    messages: list[Message]
    stop: list[str]
    stop_token_ids: frozenset[int]
    dropped_turns: int = 0
    """Oldest exchanges left out to fit the budget."""


def _token_text(llama: Any, token: int) -> str:
    """The text of one (special) token, "" for none (-1)."""
    if token == -1:
        return ""
    return bytes(llama.detokenize([token], special=True)).decode("utf-8", errors="replace")


class ChatTemplate:
    """Renders messages with the GGUF's own chat template (as llama-cpp-python does) and
    tokenizes them, so the caller knows the prompt tokens before generating."""

    def __init__(self, llama: Any) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # noqa: PLC0415

        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError("the GGUF file has no chat template")
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        eos = _token_text(llama, eos_id)
        bos = _token_text(llama, bos_id)
        self._llama = llama
        self._formatter = Jinja2ChatFormatter(template, eos, bos, stop_token_ids=[eos_id])
        self._stop_ids = frozenset([eos_id])

    def tokenize(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        result = self._formatter(messages=messages)  # type: ignore[arg-type]
        tokens = self._llama.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        stop = result.stop if isinstance(result.stop, list) else [result.stop or ""]
        return list(tokens), [s for s in stop if s]

    def fit(self, messages: list[Message], max_prompt: int, max_history: int) -> ChatPrompt:
        """Drop the oldest (user, assistant) pairs until the prompt has at most `max_prompt`
        tokens and the history at most `max_history`.

        `messages` = system, history pairs, optionally a system message of facts, the user turn.
        """
        tail = 2 if len(messages) > 2 and messages[-2]["role"] == "system" else 1
        system, history, last = messages[:1], messages[1:-tail], messages[-tail:]
        bare, stop = self.tokenize([*system, *last])
        if len(bare) > max_prompt:
            raise PromptTooLongError(
                f"prompt of {len(bare)} tokens does not fit the context ({max_prompt} tokens)"
            )
        dropped = 0
        while True:
            kept = [*system, *history[2 * dropped :], *last]
            tokens, stop = self.tokenize(kept) if len(kept) > len(system) + tail else (bare, stop)
            fits = len(tokens) <= max_prompt and len(tokens) - len(bare) <= max_history
            if fits or 2 * dropped >= len(history):
                break
            dropped += 1
        if dropped:
            _LOGGER.debug("history trimmed by %d exchanges to %d tokens", dropped, len(tokens))
        return ChatPrompt(tokens, kept, stop, self._stop_ids, dropped)


class ReplyCopyGuard:
    """Logits processor: a reply may not repeat any `n`-token run of the previous reply.

    Small models in a long conversation tend to answer a new question with the last
    answer again; banning the token that would complete a copied n-gram stops that.
    """

    def __init__(self, previous: list[int], prompt_length: int, n: int) -> None:
        self.prompt_length = prompt_length
        self.n = n
        self._next: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i in range(len(previous) - n + 1):
            self._next[tuple(previous[i : i + n - 1])].append(previous[i + n - 1])
        self.blocked = 0

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        generated = input_ids[self.prompt_length :]
        if len(generated) < self.n - 1:
            return scores
        banned = self._next.get(tuple(int(t) for t in generated[len(generated) - self.n + 1 :]))
        if banned:
            scores[banned] = -np.inf
            self.blocked += 1
        return scores


def copy_guard(llama: Any, prompt: ChatPrompt, n: int, prompt_length: int) -> ReplyCopyGuard | None:
    """A guard against the last assistant message of `prompt`, or None (none, or n < 2)."""
    if n < 2:
        return None
    previous = [m["content"] for m in prompt.messages if m["role"] == "assistant"]
    if not previous:
        return None
    tokens = llama.tokenize(previous[-1].encode("utf-8"), add_bos=False, special=False)
    return ReplyCopyGuard(list(tokens), prompt_length, n) if len(tokens) >= n else None
