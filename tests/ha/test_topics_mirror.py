"""custom_components/naila/const.py mirrors naila_protocol/topics.py exactly (HACS ships only the former)."""

import inspect
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from custom_components.naila import const
from naila_protocol import topics as protocol
from scripts import mirror_protocol

PREFIXES = ["naila", "home/naila", "x"]
DEVICE_IDS = ["living_room", "cam-1.front:2"]


def _members(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")}


def test_same_public_names() -> None:
    assert _members(const.Topics) == _members(protocol.Topics)
    for name in ("DEFAULT_PREFIX", "QOS_RELIABLE", "QOS_TELEMETRY", "MAX_DEVICE_ID_LENGTH"):
        assert getattr(const, name) == getattr(protocol, name)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_topic_is_identical(prefix: str) -> None:
    mirror, original = const.Topics(prefix), protocol.Topics(prefix)
    checked = 0
    for name in sorted(_members(protocol.Topics)):
        attribute = inspect.getattr_static(protocol.Topics, name)
        if name == "prefix":
            assert mirror.prefix == original.prefix
        elif isinstance(attribute, property):
            assert getattr(mirror, name) == getattr(original, name), name
        elif name == "parse_device_topic":
            for topic in (
                f"{prefix}/devices/a/status",
                f"{prefix}/devices/a/media/snapshot",
                f"{prefix}/devices/a",
                f"{prefix}/devicesX/a/status",
                "other/devices/a/status",
            ):
                assert mirror.parse_device_topic(topic) == original.parse_device_topic(topic)
        elif name == "parse_upload_topic":
            for topic in (
                f"{prefix}/uploads/s1/image",
                f"{prefix}/uploads/s1/reply",
                f"{prefix}/uploads/s1",
                f"{prefix}/uploads//image",
                "other/uploads/s1/image",
            ):
                assert mirror.parse_upload_topic(topic) == original.parse_upload_topic(topic)
        else:
            arity = len(inspect.signature(attribute).parameters) - 1
            for device_id in DEVICE_IDS:
                args = [device_id, "status", "x"][:arity]
                assert getattr(mirror, name)(*args) == getattr(original, name)(*args), name
        checked += 1
    assert checked >= 25


@pytest.mark.parametrize("value", ["ok_id", "a" * 64, "a" * 65, "bad id", "a/b", "+", "#", "", "é"])
def test_device_id_validation_is_identical(value: str) -> None:
    assert const.is_valid_device_id(value) == protocol.is_valid_device_id(value)


@pytest.mark.parametrize("name", sorted(mirror_protocol.MIRRORS))
def test_vocab_and_payloads_are_verbatim_copies(name: str) -> None:
    """`vocab.py` and `wire.py` are naila_protocol's files: run scripts/mirror_protocol.py."""
    target = Path(const.__file__).with_name(mirror_protocol.MIRRORS[name])
    assert target.read_text() == mirror_protocol.mirrored(name), (
        f"{target.name} differs from naila_protocol/{name}: run scripts/mirror_protocol.py"
    )
