"""The server add-on: every option reaches the CLI, every flag the run script uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from wyoming_bridge.cli import build_parser

ADDONS = Path(__file__).parents[2] / "addons"
ADDON = ADDONS / "naila_server"


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


def test_run_script_maps_every_option_to_a_real_flag() -> None:
    config = yaml.safe_load((ADDON / "config.yaml").read_text())
    script = (ADDON / "run.sh").read_text()
    used = set(re.findall(r"bashio::config(?:\.has_value|\.true)? '(\w+)'", script))
    assert used == set(config["schema"])
    flags = set(re.findall(r"(--[a-z][a-z0-9-]+)", script))
    known = {option for action in build_parser()._actions for option in action.option_strings}
    assert flags <= known, flags - known
