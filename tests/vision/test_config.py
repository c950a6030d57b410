"""Vision flags and environment variables map onto VisionConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from naila_protocol.settings import SettingsParser
from wyoming_bridge.app import ServerSettings
from wyoming_bridge.cli import build_parser, settings_from_args
from wyoming_bridge.vision.config import VisionConfig
from wyoming_bridge.vision.models import ModelNotFoundError
from wyoming_bridge.vision.wiring import wire_vision


def parse(argv: list[str]) -> VisionConfig:
    config: VisionConfig = SettingsParser(VisionConfig).parse_settings(argv)
    return config


def test_defaults_store_nothing_and_use_packaged_models(monkeypatch) -> None:
    for name in ("VISION_DATA_DIR", "VISION_MODELS", "VISION_STORE_UPLOADS", "VISION_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    args = build_parser().parse_args(["--mqtt-prefix", "home", "--server-id", "ai-9"])
    config = settings_from_args(args, {}).vision_config
    assert config.enabled and config.models == ("coco", "fall") and config.data_dir is None
    assert not config.store_uploads and not config.store_conversation
    assert (config.prefix, config.server_id, config.share_group) == ("home", "ai-9", "naila")


def test_flags_and_env(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VISION_SHARE_GROUP", "servers")
    monkeypatch.setenv("VISION_STORE_UPLOADS", "true")
    config = parse(["--vision-zones", "porch=front_door, hall_cam=hallway",
                    "--vision-alert-classes", "car,dog", "--vision-data-dir", str(tmp_path),
                    "--vision-models", "fall", "--no-vision-store-alerts",
                    "--vision-retention-max-mb", "10"])  # fmt: skip
    assert config.zones == {"porch": "front_door", "hall_cam": "hallway"}
    assert config.alert_classes == ("car", "dog") and config.models == ("fall",)
    assert config.data_dir == tmp_path and config.share_group == "servers"
    assert config.store_uploads and not config.store_alerts
    assert config.retention_max_bytes == 10 * 1024 * 1024


@pytest.mark.parametrize(("value", "enabled"), [("false", False), ("0", False), ("true", True)])
def test_vision_enabled_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, enabled: bool
) -> None:
    monkeypatch.setenv("VISION_ENABLED", value)
    assert settings_from_args(build_parser().parse_args([])).vision.enabled is enabled
    assert settings_from_args(build_parser().parse_args(["--vision"])).vision.enabled


def test_bad_boolean_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VISION_STORE_UPLOADS", "maybe")
    with pytest.raises(SystemExit):
        settings_from_args(build_parser().parse_args([]))
    assert "VISION_STORE_UPLOADS" in capsys.readouterr().err


def test_no_vision_builds_nothing() -> None:
    assert wire_vision(parse(["--no-vision"]), None) is None
    assert ServerSettings().vision.enabled


def test_missing_model_fails_loudly() -> None:
    with pytest.raises(ModelNotFoundError):
        wire_vision(parse(["--vision-models", "/nope/model.onnx"]), None)
