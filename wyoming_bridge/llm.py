"""Language model with llama-cpp-python (runs on the LLM worker thread only)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from naila_protocol.settings import ranged, setting

from .chat_prompt import ChatPrompt, ChatTemplate, Message, copy_guard
from .kv_state import ConversationKv, KvStateStore, common_prefix

_LOGGER = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are NAILA, a friendly voice assistant in a smart home. "
    "Answer in one or two short sentences of plain spoken English."
)


_GROUP = "language model (llama.cpp)"


@dataclass(frozen=True, slots=True)
class LlmSettings:
    model: str | None = setting(
        None,
        env="LLM_MODEL",
        group=_GROUP,
        help="GGUF file; none = packaged SmolLM2-135M-Instruct",
    )
    system_prompt: str = setting(
        DEFAULT_SYSTEM_PROMPT,
        env="LLM_SYSTEM_PROMPT",
        flag="--system-prompt",
        group=_GROUP,
        help="system prompt of every conversation",
    )
    max_tokens: int = setting(64, env="LLM_MAX_TOKENS", group=_GROUP, help="longest reply")
    temperature: float = setting(
        0.2, env="LLM_TEMPERATURE", group=_GROUP, help="sampling temperature"
    )
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    context_size: int = setting(
        2048, env="LLM_CONTEXT", group=_GROUP, help="context size in tokens"
    )
    threads: int = setting(
        0,
        env="LLM_THREADS",
        group=_GROUP,
        help="0 = all cores but one, so TTS of sentence 1 overlaps the LLM writing sentence 2",
    )
    history_turns: int = setting(
        3,
        env="LLM_HISTORY_TURNS",
        flag="--history-turns",
        group=_GROUP,
        help="remembered exchanges per conversation",
    )
    history_ttl_s: float = setting(
        300.0,
        env="LLM_HISTORY_TTL",
        flag="--history-ttl",
        group=_GROUP,
        help="seconds a conversation is remembered",
    )
    max_conversations: int = 256
    history_tokens: int = setting(
        1024,
        env="LLM_HISTORY_TOKENS",
        flag="--history-tokens",
        group=_GROUP,
        help="most tokens of remembered exchanges in a prompt",
    )
    """Most tokens of remembered exchanges in one prompt (oldest dropped first)."""
    kv_cache: bool = setting(
        True,
        env="LLM_KV_CACHE",
        flag="--llm-kv-cache",
        group=_GROUP,
        help="keep each conversation's evaluated prompt between turns",
    )
    """Keep each conversation's evaluated prompt (KV state) between turns (kv_state.py)."""
    kv_states: int = setting(
        8,
        env="LLM_KV_STATES",
        parse=ranged(int, 0, 64),
        flag="--llm-kv-states",
        group=_GROUP,
        help="conversations whose KV state is kept while another one uses the model",
    )
    """Conversations whose KV state is kept while another one uses the model."""
    kv_state_mb: float = setting(
        256.0,
        env="LLM_KV_STATE_MB",
        parse=ranged(float, 0.0, 4096.0),
        flag="--llm-kv-state-mb",
        group=_GROUP,
        help="MiB all kept KV states may take together",
    )
    """Byte cap of all kept KV states together, in MiB."""
    copy_guard_tokens: int = setting(
        4,
        env="LLM_COPY_GUARD_TOKENS",
        parse=ranged(int, 0, 64),
        flag="--llm-copy-guard-tokens",
        group=_GROUP,
        help="a reply may not repeat a run of this many tokens of the previous reply (0 = off)",
    )
    """A reply may not repeat a run of this many tokens of the previous reply (0 = off)."""


GATE_MAX_WAIT_S = 2.0


def build_messages(
    system_prompt: str,
    history: list[tuple[str, str]],
    user_text: str,
    context: str | None = None,
    facts: str | None = None,
) -> list[Message]:
    """Chat messages with a fixed prefix (system prompt, then history) for KV-cache reuse.

    What changes between requests comes after that prefix: `facts` (local date and time,
    the device) as a system message just before the user turn, so the model treats them as
    instructions while the system prompt and history stay byte-identical turn after turn;
    extra context (e.g. what the camera sees) in the user turn.
    """
    messages: list[Message] = [{"role": "system", "content": system_prompt}]
    for user, assistant in history:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    if facts:
        messages.append({"role": "system", "content": facts})
    content = f"{user_text}\n\n(Context: {context})" if context else user_text
    messages.append({"role": "user", "content": content})
    return messages


class LlmEngine:
    """Loads one GGUF model; streams chat replies using the model's own chat template."""

    def __init__(self, model_file: Path, settings: LlmSettings) -> None:
        from llama_cpp import Llama  # noqa: PLC0415 - heavy, only when an engine is built

        self.settings = settings
        started = time.perf_counter()
        self._llama = Llama(
            model_path=str(model_file),
            n_ctx=settings.context_size,
            n_threads=settings.threads or max(1, (os.cpu_count() or 1) - 1),
            verbose=False,
        )
        self.name = model_file.stem
        self._template: ChatTemplate | None = None
        self.last_prompt: ChatPrompt | None = None
        self.evaluated_before_last = 0
        """Tokens of the last prompt that were already evaluated (for logs and tests)."""
        self.kv: ConversationKv | None = None
        try:
            self._template = ChatTemplate(self._llama)
        except ValueError as err:
            _LOGGER.warning("%s: %s; conversation KV states are off", model_file.name, err)
        if settings.kv_cache and self._template is not None:
            store = KvStateStore(settings.kv_states, int(settings.kv_state_mb * 2**20))
            self.kv = ConversationKv(self._llama, store)
        _LOGGER.info(
            "LLM loaded %s (ctx %d) in %.0f ms",
            model_file,
            settings.context_size,
            (time.perf_counter() - started) * 1e3,
        )

    def warm_up(self) -> None:
        """Evaluate the system prompt once so its KV cache is ready for the first request."""
        for _ in self.stream(build_messages(self.settings.system_prompt, [], "Hello"), None, 4):
            pass

    def stream(
        self,
        messages: list[Message],
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        gate: threading.Event | None = None,
        conversation: str | None = None,
    ) -> Iterator[str]:
        """Yield reply text pieces as the model produces them; stops early on cancel.

        While `gate` is cleared generation pauses between tokens (the pipeline clears it
        so the first sentence's TTS gets the CPU); it resumes after GATE_MAX_WAIT_S anyway.
        `conversation` names whose KV state to continue (see kv_state.py).
        """
        max_tokens = max_tokens or self.settings.max_tokens
        chunks: Any
        if self._template is None:
            chunks = self._llama.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                max_tokens=max_tokens,
                temperature=self.settings.temperature,
                top_p=self.settings.top_p,
                repeat_penalty=self.settings.repeat_penalty,
            )
        else:
            chunks = self._completion(messages, max_tokens, conversation)
        try:
            for chunk in chunks:
                if gate is not None:
                    gate.wait(GATE_MAX_WAIT_S)
                if cancel is not None and cancel.is_set():
                    return
                choice = chunk["choices"][0]
                text = choice["delta"].get("content") if "delta" in choice else choice["text"]
                if text:
                    yield text
        finally:
            chunks.close()

    def _completion(
        self, messages: list[Message], max_tokens: int, conversation: str | None
    ) -> Any:
        """Token prompt fitted to the context, the conversation's KV state lined up, streaming."""
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList  # noqa: PLC0415

        assert self._template is not None
        settings = self.settings
        n_ctx = self._llama.n_ctx()
        prompt = self._template.fit(messages, n_ctx - max_tokens, settings.history_tokens)
        if self.kv is not None:
            self.kv.prepare(conversation, prompt.tokens)
        llama = self._llama
        self.last_prompt = prompt
        self.evaluated_before_last = common_prefix(llama.input_ids[: llama.n_tokens], prompt.tokens)
        _LOGGER.debug(
            "prompt %d tokens (%d already evaluated) for %s",
            len(prompt.tokens),
            self.evaluated_before_last,
            conversation,
        )
        guard = copy_guard(self._llama, prompt, settings.copy_guard_tokens, len(prompt.tokens))
        stop_ids = prompt.stop_token_ids

        def stop_on_token(tokens: Any, _logits: Any) -> bool:
            return int(tokens[-1]) in stop_ids

        return self._llama.create_completion(
            prompt=prompt.tokens,
            stream=True,
            max_tokens=max_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            repeat_penalty=settings.repeat_penalty,
            stop=prompt.stop,
            stopping_criteria=StoppingCriteriaList([stop_on_token]),
            logits_processor=LogitsProcessorList([guard]) if guard else None,
        )

    def complete(
        self,
        messages: list[Message],
        cancel: threading.Event | None = None,
        conversation: str | None = None,
    ) -> str:
        """Whole reply at once."""
        return "".join(self.stream(messages, cancel, conversation=conversation)).strip()
