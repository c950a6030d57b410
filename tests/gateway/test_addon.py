"""The add-on's options are exactly gateway settings, and its run script exports all of them."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import yaml

from naila_gateway.config import GatewayConfig

ADDON = Path(__file__).parents[2] / "addons" / "naila_gateway"


def test_options_are_gateway_environment_variables() -> None:
    config = yaml.safe_load((ADDON / "config.yaml").read_text())
    env_names = {f.metadata["env"] for f in fields(GatewayConfig)}
    assert {key.upper() for key in config["schema"]} <= env_names
    assert set(config["options"]) <= set(config["schema"])
    assert {
        "MQTT_HOST",
        "AI_SERVER_HOST",
        "WEBRTC_ICE_SERVERS",
        "AUDIO_VAD_MODE",
        "AUDIO_VAD_THRESHOLD",
        "AUDIO_SILENCE_FRAMES",
        "AUDIO_SAMPLE_RATE",
        "LOG_LEVEL",
    } <= {k.upper() for k in config["schema"]}
    assert config["services"] == ["mqtt:need"]
    assert set(config["arch"]) == {"amd64", "aarch64"}
    defaults = {key.upper(): str(value) for key, value in config["options"].items() if value != ""}
    GatewayConfig.from_env(defaults).validate()


def test_run_script_maps_every_option() -> None:
    config = yaml.safe_load((ADDON / "config.yaml").read_text())
    script = (ADDON / "run.sh").read_text()
    listed = set(
        re.search(r"for option in (.*?); do", script, re.S).group(1).replace("\\", " ").split()
    )
    assert listed == set(config["schema"])
    translations = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text())
    assert set(translations["configuration"]) == set(config["schema"])
    build = yaml.safe_load((ADDON / "build.yaml").read_text())
    assert set(build["build_from"]) == {"amd64", "aarch64"}
