"""Vision on the AI server: detection, OCR, media inputs over MQTT, alerts, media store."""

from .config import VisionConfig
from .service import VisionService
from .wiring import build_vision_service, wire_vision

__all__ = [
    "VisionConfig",
    "VisionService",
    "build_vision_service",
    "wire_vision",
]
