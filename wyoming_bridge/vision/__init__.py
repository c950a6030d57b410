"""Vision on the AI server: detection, OCR, media inputs over MQTT, alerts, media store."""

from .config import VisionConfig, add_vision_args, vision_config_from_args
from .service import VisionService
from .wiring import build_vision_service, run_vision, wire_vision

__all__ = [
    "VisionConfig",
    "VisionService",
    "add_vision_args",
    "build_vision_service",
    "run_vision",
    "vision_config_from_args",
    "wire_vision",
]
