"""The Wyoming `Info` this server advertises: asr, tts (streaming) and handle programs."""

from __future__ import annotations

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
)

from . import __version__
from .engines import Engines

_NAILA = Attribution(name="NAILA", url="https://github.com/naila-assistant/naila")


def build_info(engines: Engines) -> Info:
    """Info for HA's wyoming integration (readable by wyoming 1.5.4 clients too)."""
    language = engines.stt.settings.language or "en"
    return Info(
        asr=[
            AsrProgram(
                name="naila-stt",
                description="NAILA speech to text (faster-whisper)",
                attribution=Attribution(
                    "faster-whisper", "https://github.com/SYSTRAN/faster-whisper"
                ),
                installed=True,
                version=__version__,
                models=[
                    AsrModel(
                        name="whisper",
                        description="Whisper (CTranslate2)",
                        attribution=Attribution("OpenAI", "https://github.com/openai/whisper"),
                        installed=True,
                        version=None,
                        languages=[language],
                    )
                ],
            )
        ],
        tts=[
            TtsProgram(
                name="naila-tts",
                description="NAILA text to speech (Piper)",
                attribution=Attribution("Piper", "https://github.com/OHF-Voice/piper1-gpl"),
                installed=True,
                version=__version__,
                voices=[
                    TtsVoice(
                        name=engines.tts.name,
                        description=f"Piper {engines.tts.name}",
                        attribution=Attribution("Piper", "https://github.com/OHF-Voice/piper1-gpl"),
                        installed=True,
                        version=None,
                        languages=[language],
                    )
                ],
                supports_synthesize_streaming=True,
            )
        ],
        handle=[
            HandleProgram(
                name="naila-assistant",
                description="NAILA conversation (local LLM)",
                attribution=_NAILA,
                installed=True,
                version=__version__,
                models=[
                    HandleModel(
                        name=engines.llm.name,
                        description="llama.cpp GGUF model",
                        attribution=Attribution(
                            "llama.cpp", "https://github.com/ggml-org/llama.cpp"
                        ),
                        installed=True,
                        version=None,
                        languages=[language],
                    )
                ],
            )
        ],
    )
