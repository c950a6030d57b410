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

_LOGGER = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are NAILA, a friendly voice assistant in a smart home. "
    "Answer in one or two short sentences of plain spoken English."
)


@dataclass(slots=True)
class LlmSettings:
    model: str | None = None
    """GGUF file; None = packaged SmolLM2-135M-Instruct."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_tokens: int = 64
    temperature: float = 0.2
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    context_size: int = 2048
    threads: int = 0
    """0 = all cores but one (at least 1), so TTS of sentence 1 overlaps the LLM writing sentence 2."""
    history_turns: int = 3
    history_ttl_s: float = 300.0
    max_conversations: int = 256


Message = dict[str, str]
GATE_MAX_WAIT_S = 2.0


def build_messages(
    system_prompt: str,
    history: list[tuple[str, str]],
    user_text: str,
    context: str | None = None,
) -> list[Message]:
    """Chat messages with a fixed prefix (system prompt, then history) for KV-cache reuse.

    Extra context (e.g. what the camera sees) goes into the user turn so the prefix
    before it stays identical between requests.
    """
    messages: list[Message] = [{"role": "system", "content": system_prompt}]
    for user, assistant in history:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
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
    ) -> Iterator[str]:
        """Yield reply text pieces as the model produces them; stops early on cancel.

        While `gate` is cleared generation pauses between tokens (the pipeline clears it
        so the first sentence's TTS gets the CPU); it resumes after GATE_MAX_WAIT_S anyway.
        """
        chunks: Any = self._llama.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            max_tokens=max_tokens or self.settings.max_tokens,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
            repeat_penalty=self.settings.repeat_penalty,
        )
        try:
            for chunk in chunks:
                if gate is not None:
                    gate.wait(GATE_MAX_WAIT_S)
                if cancel is not None and cancel.is_set():
                    return
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    yield text
        finally:
            chunks.close()

    def complete(self, messages: list[Message], cancel: threading.Event | None = None) -> str:
        """Whole reply at once."""
        return "".join(self.stream(messages, cancel)).strip()
