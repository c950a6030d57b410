"""Vision flags and environment variables map onto VisionConfig."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from wyoming_bridge.vision.config import add_vision_args, vision_config_from_args
from wyoming_bridge.vision.models import ModelNotFoundError
from wyoming_bridge.vision.wiring import wire_vision


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_vision_args(parser)
    return parser.parse_args(argv)


def test_defaults_store_nothing_and_use_packaged_models(monkeypatch) -> None:
    for name in ("VISION_DATA_DIR", "VISION_MODELS", "VISION_STORE_UPLOADS"):
        monkeypatch.delenv(name, raising=False)
    config = vision_config_from_args(parse([]), prefix="home", server_id="ai-9")
    assert config.models == ("coco", "fall") and config.data_dir is None
    assert not config.store_uploads and not config.store_conversation
    assert (config.prefix, config.server_id, config.share_group) == ("home", "ai-9", "naila")


def test_flags_and_env(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VISION_SHARE_GROUP", "servers")
    monkeypatch.setenv("VISION_STORE_UPLOADS", "true")
    args = parse(["--vision-zones", "porch=front_door, hall_cam=hallway",
                  "--vision-alert-classes", "car,dog", "--vision-data-dir", str(tmp_path),
                  "--vision-models", "fall", "--no-vision-store-alerts",
                  "--vision-retention-max-mb", "10"])  # fmt: skip
    config = vision_config_from_args(args)
    assert config.zones == {"porch": "front_door", "hall_cam": "hallway"}
    assert config.alert_classes == ("car", "dog") and config.models == ("fall",)
    assert config.data_dir == tmp_path and config.share_group == "servers"
    assert config.store_uploads and not config.store_alerts
    assert config.retention_max_bytes == 10 * 1024 * 1024


def test_no_vision_builds_nothing() -> None:
    assert wire_vision(parse(["--no-vision"]), None) is None


def test_missing_model_fails_loudly() -> None:
    with pytest.raises(ModelNotFoundError):
        wire_vision(parse(["--vision-models", "/nope/model.onnx"]), None)
