"""NAILA AI server: STT -> LLM -> TTS over Wyoming and the gateway audio socket."""

__version__ = "0.1.0"
