"""custom_components/naila/quality_scale.yaml: complete, and its checkable claims hold.

The rule names are those of Home Assistant core's script/hassfest/quality_scale.py (which is not
part of the homeassistant package, so they are listed here); hassfest requires every rule of the
declared tiers to be `done` or `exempt`.
"""

from __future__ import annotations

import ast
import json
import re
import struct
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "custom_components" / "naila"
DOCS = (ROOT / "docs" / "home_assistant.md").read_text()

BRONZE = (
    "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
    "config-flow-test-coverage", "dependency-transparency", "docs-actions", "docs-conditions",
    "docs-high-level-description", "docs-installation-instructions", "docs-removal-instructions",
    "docs-triggers", "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data",
    "test-before-configure", "test-before-setup", "unique-config-entry",
)  # fmt: skip
SILVER = (
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
)  # fmt: skip
GOLD = (
    "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
    "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
    "entity-category", "entity-device-class", "entity-disabled-by-default",
    "entity-translations", "exception-translations", "icon-translations",
    "reconfiguration-flow", "repair-issues", "stale-devices",
)  # fmt: skip
PLATINUM = ("async-dependency", "inject-websession", "strict-typing")

# The documentation rules and the section of docs/home_assistant.md that meets each.
DOC_SECTIONS = {
    "docs-actions": "## Services (with response data)",
    "docs-triggers": "## Events",
    "docs-installation-instructions": "## Install",
    "docs-removal-instructions": "## Removal",
    "docs-configuration-parameters": "**Options**",
    "docs-data-update": "## How data updates",
    "docs-examples": "## Use cases",
    "docs-known-limitations": "## Known limitations",
    "docs-supported-devices": "## Supported devices",
    "docs-supported-functions": "## What appears",
    "docs-troubleshooting": "## Troubleshooting",
    "docs-use-cases": "## Use cases",
}
HA_ERRORS = {
    "HomeAssistantError",
    "ServiceValidationError",
    "ConfigEntryNotReady",
    "ConfigEntryError",
    "ConfigEntryAuthFailed",
    "InvalidDeviceAutomationConfig",
}


def _rules() -> dict[str, tuple[str, str | None]]:
    data = yaml.safe_load((COMPONENT / "quality_scale.yaml").read_text())
    rules: dict[str, tuple[str, str | None]] = {}
    for name, value in data["rules"].items():
        if isinstance(value, dict):
            rules[name] = (value["status"], value.get("comment"))
        else:
            rules[name] = (value, None)
    return rules


def test_every_rule_is_listed_once_with_a_valid_status() -> None:
    rules = _rules()
    assert sorted(rules) == sorted(BRONZE + SILVER + GOLD + PLATINUM)
    for name, (status, comment) in rules.items():
        assert status in ("done", "exempt", "todo"), name
        if status != "done":
            assert comment, f"{name}: an {status} rule says why"


def test_bronze_silver_and_gold_are_met() -> None:
    rules = _rules()
    assert [r for r in BRONZE + SILVER + GOLD if rules[r][0] == "todo"] == []


@pytest.mark.parametrize(("rule", "heading"), sorted(DOC_SECTIONS.items()))
def test_documentation_rules_have_their_section(rule: str, heading: str) -> None:
    assert _rules()[rule][0] == "done"
    assert heading in DOCS
    section = DOCS.split(heading, 1)[1].split("\n## ", 1)[0]
    assert len(section.split()) >= 20, f"{heading} says next to nothing"


def test_brand_icon_and_owners() -> None:
    icon = (COMPONENT / "brand" / "icon.png").read_bytes()
    assert icon[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", icon[16:24]) == (256, 256)
    manifest = json.loads((COMPONENT / "manifest.json").read_text())
    assert manifest["codeowners"]
    assert manifest["requirements"] == []  # dependency-transparency is exempt for this reason
    assert manifest["iot_class"] == "local_push"  # appropriate-polling is exempt for this reason


def test_every_platform_sets_parallel_updates() -> None:
    platforms = re.findall(r"Platform\.(\w+)", (COMPONENT / "__init__.py").read_text())
    assert platforms
    for platform in platforms:
        source = (COMPONENT / f"{platform.lower()}.py").read_text()
        assert re.search(r"^PARALLEL_UPDATES = 0$", source, re.MULTILINE), platform


def _calls() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(COMPONENT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                found.append((path.name, node))
    return found


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def test_every_raised_home_assistant_error_is_translated() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    messages = set(strings["exceptions"])
    keys: set[str] = set()  # translation keys written as literals where an error is built
    literals: set[str] = set()  # every string literal of the integration
    for path in sorted(COMPONENT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and _name(node.exc) in HA_ERRORS
            ):
                kwargs = {k.arg for k in node.exc.keywords}
                assert "translation_key" in kwargs, f"{path.name}:{node.lineno} untranslated"
    # Keys of the errors built directly and by the helpers (services._error, checks._refused).
    for _, call in _calls():
        key = None
        if _name(call) == "_error" and len(call.args) >= 2:
            key = call.args[1]
        elif _name(call) == "_refused" and call.args:
            key = call.args[0]
        elif _name(call) in HA_ERRORS:
            key = next((k.value for k in call.keywords if k.arg == "translation_key"), None)
        if isinstance(key, ast.Constant):
            keys.add(key.value)
    assert keys
    assert sorted(keys - messages) == []  # every literal key raised has a message
    assert sorted(messages - literals) == []  # and every message is named in the code


def test_repair_issue_and_abort_strings_exist() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    assert "mqtt_missing" in strings["issues"]
    assert "already_in_progress" in strings["config"]["abort"]


def test_shipped_english_translation_is_the_strings_file() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    english = json.loads((COMPONENT / "translations" / "en.json").read_text())
    assert english == strings
