"""The add-on's options are exactly gateway settings, and its run script exports all of them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from naila_gateway.config import GatewayConfig
from naila_protocol.settings import env_names, leaves
from tests.addon_script import run_addon

ADDON = Path(__file__).parents[2] / "addons" / "naila_gateway"


def test_options_are_gateway_environment_variables() -> None:
    config = yaml.safe_load((ADDON / "config.yaml").read_text())
    names = set(env_names(GatewayConfig))
    assert {key.upper() for key in config["schema"]} <= names
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
    assert config["ingress"] is True and config["panel_title"] == "NAILA"
    assert config["ingress_port"] == 8099
    assert {"WEBRTC_ICE_ADDRESSES", "HTTP_TOKEN", "HTTP_TLS_CERT_FILE"} <= {
        k.upper() for k in config["schema"]
    }
    assert set(config["arch"]) == {"amd64", "aarch64"}
    defaults = {key.upper(): str(value) for key, value in config["options"].items() if value != ""}
    GatewayConfig.from_env(defaults).validate()


def test_option_choices_are_the_settings_choices() -> None:
    """An option of a setting with choices lists exactly them; this round's settings are offered."""
    schema = yaml.safe_load((ADDON / "config.yaml").read_text())["schema"]
    specs = {leaf.spec.env: leaf.spec for leaf in leaves(GatewayConfig)}
    for key, kind in schema.items():
        listed = re.fullmatch(r"list\((.*)\)\??", kind)
        choices = specs[key.upper()].choices
        if choices is not None:
            assert listed is not None, f"{key}: the setting has choices, the option must list them"
            assert set(listed.group(1).split("|")) == set(choices), key
    offered = {key.upper() for key in schema}
    assert {
        "LISTENING_MODE",
        "WAKE_WORD",
        "LISTENING_FOLLOW_UP_SECONDS",
        "WAKE_WORD_COMMAND_SECONDS",
        "WAKE_WORD_PREROLL_SECONDS",
        "AUDIO_ECHO",
        "AUDIO_ECHO_MAX_DELAY",
        "AUDIO_ECHO_MARGIN_DB",
        "AUDIO_ECHO_ONSET_FRAMES",
        "AUDIO_ECHO_REFERENCE_DELAY",
        "AUDIO_END_OF_TURN",
        "AUDIO_END_OF_TURN_MIN_SILENCE",
        "AUDIO_END_OF_TURN_MAX_SILENCE",
        "AUDIO_END_OF_TURN_VERDICT_WAIT",
        "AUDIO_END_OF_TURN_PROBE",
        "AUDIO_END_OF_TURN_THRESHOLD",
        "AI_SERVER_KEEPALIVE",
    } <= offered


def test_listening_echo_and_end_of_turn_options_reach_the_settings(tmp_path: Path) -> None:
    options = {
        "ai_server_host": "10.0.0.2",
        "listening_mode": "push_to_talk",
        "wake_word": "hey_jarvis",
        "listening_follow_up_seconds": 4.5,
        "wake_word_command_seconds": 3,
        "wake_word_preroll_seconds": 0.5,
        "audio_echo": "cancel",
        "audio_echo_onset_frames": 2,
        "audio_echo_reference_delay": 0.1,
        "audio_end_of_turn": "semantic",
        "audio_end_of_turn_max_silence": 2.5,
        "ai_server_keepalive": 7,
    }
    environ = run_addon(tmp_path, "naila_gateway", options, tmp_path / "t")
    config = GatewayConfig.from_env(environ)
    config.validate()
    listening = config.listening
    assert (listening.listening_mode, listening.wake_word) == ("push_to_talk", "hey_jarvis")
    assert (listening.follow_up_seconds, listening.command_seconds) == (4.5, 3.0)
    assert listening.wake_preroll_seconds == 0.5
    assert (config.echo.mode, config.echo.onset_frames) == ("cancel", 2)
    assert config.echo.reference_delay_s == 0.1
    assert (config.end_of_turn.mode, config.end_of_turn.max_silence_s) == ("semantic", 2.5)
    assert config.ai_server_keepalive == 7.0


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


def test_run_script_serves_the_page_behind_ingress_with_a_generated_token(tmp_path: Path) -> None:
    page_token = tmp_path / "http_token"
    env = {"NAILA_PAGE_TOKEN_FILE": str(page_token)}
    first = run_addon(
        tmp_path, "naila_gateway", {"ai_server_host": "10.0.0.5"}, tmp_path / "t", extra_env=env
    )
    assert first["HTTP_PORT"] == "8099" and first["HTTP_HOST"] == "0.0.0.0"
    assert first["HTTP_TRUSTED_PROXY"] == "172.30.32.2"
    assert len(first["HTTP_TOKEN"]) >= 32 and page_token.read_text().strip() == first["HTTP_TOKEN"]
    again = run_addon(
        tmp_path, "naila_gateway", {"ai_server_host": "10.0.0.5"}, tmp_path / "t", extra_env=env
    )
    assert again["HTTP_TOKEN"] == first["HTTP_TOKEN"]
    chosen = run_addon(
        tmp_path,
        "naila_gateway",
        {"ai_server_host": "10.0.0.5", "http_token": "mine", "webrtc_ice_addresses": "eth0"},
        tmp_path / "t",
        extra_env=env,
    )
    assert chosen["HTTP_TOKEN"] == "mine" and chosen["WEBRTC_ICE_ADDRESSES"] == "eth0"
    settings = GatewayConfig.from_env(chosen)
    assert settings.http.port == 8099 and settings.http.token == "mine"
    assert settings.ice_addresses == ["eth0"]


def test_run_script_environment_fills_the_settings(tmp_path: Path) -> None:
    options = {
        "ai_server_host": "10.0.0.2",
        "ai_server_standby": "10.0.0.3:9999,10.0.0.4",
        "audio_vad_mode": "silero",
        "webrtc_jitter_frames": 3,
    }
    mqtt = {"host": "core-mosquitto", "port": 1884, "username": "addons", "password": "pw"}
    token = tmp_path / "audio_socket_token"
    environ = run_addon(tmp_path, "naila_gateway", options, token, {"mqtt": mqtt})
    config = GatewayConfig.from_env(environ)
    assert (config.ai_server_host, config.vad_mode, config.jitter_frames) == (
        "10.0.0.2",
        "silero",
        3,
    )
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.password) == (
        "core-mosquitto",
        1884,
        "pw",
    )
    assert config.ai_server_port == GatewayConfig().ai_server_port
    port = config.ai_server_port
    assert config.ai_servers == [("10.0.0.2", port), ("10.0.0.3", 9999), ("10.0.0.4", port)]
