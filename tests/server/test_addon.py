"""The server add-on: every option reaches a real setting; `vision: false` turns vision off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from naila_protocol.settings import env_names, load_settings
from tests.addon_script import run_addon
from wyoming_bridge.app import ServerSettings

ADDONS = Path(__file__).parents[2] / "addons"
ADDON = ADDONS / "naila_server"
NOT_VARIABLES = {"allow", "mqtt_metrics", "auth_token"}
"""Options run.sh maps by hand: a list joined with commas, the MQTT service switch, the token."""


def test_options_schema_translations_and_build() -> None:
    config = yaml.safe_load((ADDON / "config.yaml").read_text())
    assert config["discovery"] == ["wyoming"]
    assert set(config["arch"]) == {"amd64", "aarch64"}
    assert set(config["options"]) <= set(config["schema"])
    translations = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text())
    assert set(translations["configuration"]) == set(config["schema"])
    build = yaml.safe_load((ADDON / "build.yaml").read_text())
    assert set(build["build_from"]) == {"amd64", "aarch64"}
    assert yaml.safe_load((ADDONS / "repository.yaml").read_text())["name"]


def test_run_script_maps_every_option_to_a_real_variable() -> None:
    config = yaml.safe_load((ADDON / "config.yaml").read_text())
    script = (ADDON / "run.sh").read_text()
    mapping = dict(re.findall(r"\[(\w+)\]=([A-Z0-9_]+)", script))
    assert set(mapping) | NOT_VARIABLES == set(config["schema"])
    assert set(mapping.values()) <= set(env_names(ServerSettings))


def run_script(tmp_path: Path, options: dict, services: dict) -> dict[str, str]:
    token = tmp_path / "audio_socket_token"
    return run_addon(tmp_path, "naila_server", options, token, services)


@pytest.mark.parametrize("vision", [False, True])
def test_vision_option_turns_vision_on_and_off(tmp_path: Path, vision: bool) -> None:
    options = yaml.safe_load((ADDON / "config.yaml").read_text())["options"]
    environ = run_script(tmp_path, {**options, "vision": vision}, {})
    settings = load_settings(ServerSettings, environ)
    assert settings.vision.enabled is vision
    assert settings.mqtt.host is None  # no MQTT service: MQTT off


def test_options_and_mqtt_service_reach_the_settings(tmp_path: Path) -> None:
    options = {
        "log_level": "debug",
        "stt_language": "de",
        "llm_max_tokens": 99,
        "system_prompt": "Be brief.",
        "history_turns": 0,
        "kv_cache": False,
        "kv_states": 2,
        "kv_state_mb": 48.5,
        "copy_guard_tokens": 0,
        "speculation": "stt",
        "auth_token": "s3cret",
        "allow": ["10.0.0.0/8", "192.168.1.5"],
        "mqtt_metrics": True,
        "vision": False,
    }
    mqtt = {"host": "core-mosquitto", "port": 1884, "username": "addons", "password": "pw"}
    settings = load_settings(ServerSettings, run_script(tmp_path, options, {"mqtt": mqtt}))
    assert (settings.log_level, settings.stt.language, settings.llm.max_tokens) == (
        "debug",
        "de",
        99,
    )
    assert (settings.llm.system_prompt, settings.llm.history_turns) == ("Be brief.", 0)
    llm = settings.llm
    assert (llm.kv_cache, llm.kv_states, llm.kv_state_mb, llm.copy_guard_tokens) == (
        False,
        2,
        48.5,
        0,
    )
    assert settings.speculation.mode == "stt"
    assert settings.audio_socket.limits.auth_token == "s3cret"
    assert settings.audio_socket.allow == ["10.0.0.0/8", "192.168.1.5"]
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.username) == (
        "core-mosquitto",
        1884,
        "addons",
    )
    defaults = ServerSettings()
    assert settings.stt.model == defaults.stt.model and settings.tts == defaults.tts
