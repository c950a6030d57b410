"""One frozen settings tree per process: fields declared once, filled from env and CLI flags.

A settings class is a frozen dataclass whose fields are `setting(...)` (a value with its
environment variable, flag, help group and help text) or `nested(OtherSettings)` (a subtree).
`load_settings(Tree, environ)` fills a tree from the environment; `SettingsParser(Tree)`
derives argparse groups and `--help` from it, and its `parse_settings(argv)` fills the tree
with flags winning over the environment, winning over the defaults written in the class.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_SETTING = "naila_setting"
_NESTED = "naila_nested"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingError(ValueError):
    """A bad value for one setting; the message names its environment variable or flag."""


@dataclass(frozen=True, slots=True)
class Setting:
    """What a field needs to be filled from the outside (the field metadata)."""

    env: str
    flag: str | None
    group: str
    help: str
    choices: tuple[str, ...] | None
    parse: Callable[[str], Any] | None
    const: str | None
    """`--flag` without a value means this (argparse nargs='?')."""


def setting(
    default: Any,
    *,
    env: str,
    flag: str | None = None,
    group: str,
    help: str,
    choices: Sequence[str] | None = None,
    parse: Callable[[str], Any] | None = None,
    const: str | None = None,
) -> Any:
    """A dataclass field filled from `env` (and `flag`, default `--<env lower-dashed>`)."""
    meta = Setting(env, flag, group, help, tuple(choices) if choices else None, parse, const)
    if isinstance(default, list | dict | set):
        value = default
        return dataclasses.field(
            default_factory=lambda: type(value)(value), metadata={_SETTING: meta}
        )
    return dataclasses.field(default=default, metadata={_SETTING: meta})


def nested(cls: type[Any], **defaults: Any) -> Any:
    """A subtree field; `defaults` replace the subtree's own defaults in this tree."""
    return dataclasses.field(
        default_factory=lambda: cls(**defaults), metadata={_NESTED: (cls, defaults)}
    )


@dataclass(frozen=True, slots=True)
class Leaf:
    """One setting of a tree: its dotted path, field type and default in this tree."""

    path: str
    spec: Setting
    kind: Any
    default: Any

    @property
    def flag(self) -> str:
        return self.spec.flag or "--" + self.spec.env.lower().replace("_", "-")

    @property
    def is_bool(self) -> bool:
        return _strip_optional(self.kind) is bool

    @property
    def is_list(self) -> bool:
        return typing.get_origin(_strip_optional(self.kind)) in (list, tuple)

    def convert(self, raw: str) -> Any:
        """The typed value of one raw string; ValueError with the reason."""
        base = _strip_optional(self.kind)
        if raw == "" and base is not self.kind:
            return None
        if self.spec.choices is not None and raw not in self.spec.choices:
            raise ValueError(
                f"invalid choice: {raw!r} (choose from {', '.join(self.spec.choices)})"
            )
        if self.spec.parse is not None:
            return self.spec.parse(raw)
        return _convert(base, raw)


def leaves(
    cls: type[Any], defaults: Mapping[str, Any] | None = None, prefix: str = ""
) -> Iterator[Leaf]:
    """Every setting of a tree in declaration order (depth first)."""
    hints = typing.get_type_hints(cls)
    instance_defaults = dict(defaults or {})
    for item in dataclasses.fields(cls):
        path = prefix + item.name
        if _NESTED in item.metadata:
            sub_cls, sub_defaults = item.metadata[_NESTED]
            merged = {**sub_defaults, **instance_defaults.get(item.name, {})}
            yield from leaves(sub_cls, merged, path + ".")
        elif _SETTING in item.metadata:
            if item.name in instance_defaults:
                default = instance_defaults[item.name]
            elif item.default is not dataclasses.MISSING:
                default = item.default
            else:
                default = item.default_factory()  # type: ignore[operator]
            yield Leaf(path, item.metadata[_SETTING], hints[item.name], default)


def _strip_optional(kind: Any) -> Any:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return kind


def _convert(kind: Any, raw: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        items = [part.strip() for part in raw.split(",") if part.strip()]
        return items if origin is list else tuple(items)
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ValueError(f"invalid bool value: {raw!r} (use true or false)")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"invalid {kind.__name__} value: {raw!r}") from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(raw)
        except ValueError:
            names = ", ".join(str(member.value) for member in kind)
            raise ValueError(f"invalid choice: {raw!r} (choose from {names})") from None
    if kind is Path:
        return Path(raw)
    return raw


def build(cls: Any, values: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> Any:
    """Construct a tree from {dotted path: typed value}; unnamed settings keep their default."""
    own: dict[str, Any] = dict(defaults or {})
    kwargs: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if _NESTED in item.metadata:
            sub_cls, sub_defaults = item.metadata[_NESTED]
            inner = {
                key[len(item.name) + 1 :]: value
                for key, value in values.items()
                if key.startswith(item.name + ".")
            }
            merged = {**sub_defaults, **own.get(item.name, {})}
            kwargs[item.name] = build(sub_cls, inner, merged)
        elif item.name in values:
            kwargs[item.name] = values[item.name]
        elif item.name in own:
            kwargs[item.name] = own[item.name]
    return cls(**kwargs)


def from_environ(cls: type[Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """{dotted path: typed value} of the variables that are set and non-empty."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for leaf in leaves(cls):
        raw = env.get(leaf.spec.env, "")
        if raw == "":
            continue
        try:
            values[leaf.path] = leaf.convert(raw)
        except ValueError as err:
            raise SettingError(f"{leaf.spec.env}={raw}: {err}") from None
    return values


def load_settings(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """The tree filled from the environment; SettingError names the variable of a bad value."""
    values = from_environ(cls, environ)
    try:
        return build(cls, values)
    except SettingError:
        raise
    except (TypeError, ValueError) as err:
        raise SettingError(str(err)) from None


class SettingsParser(argparse.ArgumentParser):
    """argparse with one group per settings group, flags and `--help` derived from the tree."""

    def __init__(self, tree: type[Any], **kwargs: Any) -> None:
        kwargs.setdefault(
            "epilog", "Every flag defaults to its environment variable, then to the default shown."
        )
        super().__init__(**kwargs)
        self.tree = tree
        self.leaves = list(leaves(tree))
        groups: dict[str, argparse._ArgumentGroup] = {}
        for leaf in self.leaves:
            spec = leaf.spec
            if spec.group not in groups:
                groups[spec.group] = self.add_argument_group(spec.group)
            group = groups[spec.group]
            text = f"{spec.help} [env {spec.env}, default {_show(leaf.default)}]"
            if leaf.is_bool:
                group.add_argument(
                    leaf.flag,
                    dest=leaf.path,
                    action=argparse.BooleanOptionalAction,
                    default=None,
                    help=text,
                )
                continue
            options: dict[str, Any] = {"dest": leaf.path, "default": None, "help": text}
            if leaf.is_list:
                options["action"] = "append"
            if spec.const is not None:
                options.update(nargs="?", const=spec.const)
            options["metavar"] = "{" + ",".join(spec.choices) + "}" if spec.choices else spec.env
            group.add_argument(leaf.flag, **options)

    def parse_settings(
        self, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
    ) -> Any:
        """Parse `argv`, then fill the tree: flags win over the environment; usage error if bad."""
        return self.settings_from(self.parse_args(argv), environ)

    def settings_from(
        self, args: argparse.Namespace, environ: Mapping[str, str] | None = None
    ) -> Any:
        """The tree from parsed flags and the environment (exits with a usage error if bad)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for leaf in self.leaves:
            given = getattr(args, leaf.path, None)
            if given is not None:
                raw = ",".join(given) if isinstance(given, list) else given
                values[leaf.path] = self._convert(leaf, raw, None)
            elif env.get(leaf.spec.env, "") != "":
                values[leaf.path] = self._convert(leaf, env[leaf.spec.env], leaf.spec.env)
        try:
            return build(self.tree, values)
        except (TypeError, ValueError) as err:
            self.error(str(err))

    def _convert(self, leaf: Leaf, raw: Any, variable: str | None) -> Any:
        if isinstance(raw, bool):
            return raw
        try:
            return leaf.convert(raw)
        except ValueError as err:
            where = f"environment variable {variable}" if variable else f"env {leaf.spec.env}"
            self.error(f"argument {leaf.flag}: {err} ({where})")


def ranged(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], Any]:
    """A `parse=` for numbers that must lie in low..high."""

    def parse(raw: str) -> Any:
        value = _convert(kind, raw)
        if not low <= value <= high:
            raise ValueError(f"{raw!r} is outside {low:g}..{high:g}")
        return value

    return parse


def _show(value: Any) -> str:
    if value is None or value in ("", [], (), {}):
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def env_names(tree: type[Any]) -> dict[str, str]:
    """{environment variable: dotted path} of a tree (add-on and drift tests use it)."""
    return {leaf.spec.env: leaf.path for leaf in leaves(tree)}
