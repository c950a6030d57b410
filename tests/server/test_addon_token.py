"""The add-ons share the audio socket token by default: the server's run script generates it
once into /share, the gateway's run script picks it up (both scripts run for real in bash, with
a stand-in for the Supervisor's `bashio` functions and for the final `exec`)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from naila_gateway.config import GatewayConfig
from tests.addon_script import run_addon

SERVER_OPTIONS = {
    "log_level": "info",
    "stt_language": "en",
    "stt_beam_size": "1",
    "stt_compute_type": "int8",
    "llm_max_tokens": "64",
    "system_prompt": "Be brief.",
    "history_turns": "3",
    "speculation": "full",
    "mqtt_metrics": "false",
    "vision": "false",
}


def test_server_generates_the_token_once_and_the_gateway_reads_it(tmp_path: Path) -> None:
    token_file = tmp_path / "share" / "naila" / "audio_socket_token"
    first = run_addon(tmp_path, "naila_server", SERVER_OPTIONS, token_file)
    token = first["AUDIO_SOCKET_TOKEN"]
    assert len(token) == 64 and int(token, 16) >= 0  # 32 random bytes, hex
    assert token_file.read_text() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token not in (tmp_path / "naila_server.args").read_text()  # not in `ps` output
    again = run_addon(tmp_path, "naila_server", SERVER_OPTIONS, token_file)
    assert again["AUDIO_SOCKET_TOKEN"] == token  # generated once, kept across restarts

    gateway = run_addon(tmp_path, "naila_gateway", {"ai_server_host": "10.0.0.5"}, token_file)
    assert gateway["AI_SERVER_TOKEN"] == token
    assert GatewayConfig.from_env(gateway).ai_server_token == token


def test_options_win_over_the_shared_file(tmp_path: Path) -> None:
    token_file = tmp_path / "audio_socket_token"
    server = run_addon(
        tmp_path, "naila_server", {**SERVER_OPTIONS, "auth_token": "chosen-by-user"}, token_file
    )
    assert server["AUDIO_SOCKET_TOKEN"] == "chosen-by-user"
    assert not token_file.exists()
    token_file.write_text("generated")
    gateway = run_addon(
        tmp_path,
        "naila_gateway",
        {"ai_server_host": "10.0.0.5", "ai_server_token": "chosen-by-user"},
        token_file,
    )
    assert gateway["AI_SERVER_TOKEN"] == "chosen-by-user"


@pytest.mark.parametrize("present", [False, True], ids=["no-file", "empty-file"])
def test_gateway_without_any_token_still_starts(tmp_path: Path, present: bool) -> None:
    token_file = tmp_path / "audio_socket_token"
    if present:
        token_file.write_text("")
    gateway = run_addon(tmp_path, "naila_gateway", {"ai_server_host": "10.0.0.5"}, token_file)
    assert "AI_SERVER_TOKEN" not in gateway


def test_server_mqtt_tls_options_reach_the_environment(tmp_path: Path) -> None:
    files = {"mqtt_tls_ca_file": "/ssl/ca.pem", "mqtt_tls_cert_file": "/ssl/naila.pem",
             "mqtt_tls_key_file": "/ssl/naila.key"}  # fmt: skip
    env = run_addon(tmp_path, "naila_server", {**SERVER_OPTIONS, **files}, tmp_path / "token")
    for option, path in files.items():
        assert env[option.upper()] == path
