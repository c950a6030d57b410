"""Settings trees: environment, flags over environment, errors naming the variable, --help."""

from __future__ import annotations

import enum
from dataclasses import FrozenInstanceError, dataclass

import pytest

from naila_protocol.settings import (
    SettingError,
    SettingsParser,
    env_names,
    load_settings,
    nested,
    ranged,
    setting,
)


class Mode(enum.StrEnum):
    FAST = "fast"
    SLOW = "slow"


@dataclass(frozen=True, slots=True)
class Link:
    host: str | None = setting("127.0.0.1", env="T_HOST", group="link", help="host")
    port: int = setting(1883, env="T_PORT", group="link", help="port", parse=ranged(int, 1, 65535))


@dataclass(frozen=True, slots=True)
class Tree:
    link: Link = nested(Link, host=None)
    name: str = setting("ai-1", env="T_NAME", flag="--name", group="main", help="id")
    rate: float = setting(0.5, env="T_RATE", group="main", help="rate")
    on: bool = setting(True, env="T_ON", flag="--on", group="main", help="switch")
    mode: Mode = setting(Mode.FAST, env="T_MODE", group="main", choices=["fast", "slow"], help="m")
    peers: list[str] = setting([], env="T_PEERS", flag="--peer", group="main", help="peers")
    zone: str | None = setting(
        None, env="T_ZONE", flag="--zone", const="home", group="main", help="z"
    )
    internal: int = 7


def test_defaults_and_nested_override() -> None:
    tree = load_settings(Tree, {})
    assert tree == Tree() and tree.link.host is None and tree.link.port == 1883
    assert Link().host == "127.0.0.1"  # the override is the tree's, not the class's
    with pytest.raises(FrozenInstanceError):
        tree.name = "x"  # type: ignore[misc]


def test_environment_fills_every_kind() -> None:
    env = {
        "T_HOST": "broker", "T_PORT": "1884", "T_NAME": "srv", "T_RATE": "2", "T_ON": "off",
        "T_MODE": "slow", "T_PEERS": "a, b,", "T_ZONE": "", "T_UNRELATED": "x",
    }  # fmt: skip
    tree = load_settings(Tree, env)
    assert (tree.link.host, tree.link.port, tree.name, tree.rate) == ("broker", 1884, "srv", 2.0)
    assert tree.on is False and tree.mode is Mode.SLOW and tree.peers == ["a", "b"]
    assert tree.zone is None and tree.internal == 7


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("T_PORT", "lots", "T_PORT=lots: invalid int value: 'lots'"),
        ("T_PORT", "0", "T_PORT=0: '0' is outside 1..65535"),
        ("T_ON", "maybe", "T_ON=maybe: invalid bool value: 'maybe'"),
        ("T_MODE", "warp", "T_MODE=warp: invalid choice: 'warp'"),
        ("T_RATE", "fast", "T_RATE=fast: invalid float value: 'fast'"),
    ],
)
def test_bad_environment_value_names_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        load_settings(Tree, {variable: value})


def test_flags_win_over_environment() -> None:
    parser = SettingsParser(Tree)
    env = {"T_NAME": "from-env", "T_PORT": "1884", "T_ON": "false", "T_PEERS": "x"}
    tree = parser.parse_settings(
        ["--name", "from-flag", "--on", "--peer", "a", "--peer", "b,c"], env
    )
    assert (tree.name, tree.link.port, tree.on, tree.peers) == (
        "from-flag",
        1884,
        True,
        ["a", "b", "c"],
    )
    assert parser.parse_settings(["--zone"], {}).zone == "home"
    assert parser.parse_settings(["--zone", "porch"], {}).zone == "porch"
    assert parser.parse_settings(["--no-on"], {"T_ON": "1"}).on is False


def test_bad_values_are_usage_errors_naming_flag_and_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = SettingsParser(Tree)
    with pytest.raises(SystemExit):
        parser.parse_settings([], {"T_PORT": "lots"})
    err = capsys.readouterr().err
    assert "argument --t-port: invalid int value: 'lots' (environment variable T_PORT)" in err
    with pytest.raises(SystemExit):
        parser.parse_settings(["--mode", "warp"], {})
    assert "argument --t-mode" not in capsys.readouterr().err  # the flag is derived from env
    with pytest.raises(SystemExit):
        parser.parse_settings(["--t-mode", "warp"], {})
    assert "invalid choice: 'warp' (choose from fast, slow) (env T_MODE)" in capsys.readouterr().err


def test_help_groups_flags_and_shows_each_default_once() -> None:
    text = SettingsParser(Tree, prog="t").format_help()
    assert "link:" in text and "main:" in text
    assert text.count("1883") == 1 and "[env T_PORT, default 1883]" in text
    assert "--on, --no-on" in text and "default true" in text
    assert "internal" not in text
    assert env_names(Tree)["T_HOST"] == "link.host"
