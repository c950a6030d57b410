"""Real photos with people for simulated cameras, tests and benches (bus.jpg, zidane.jpg).

They live in the ultralytics wheel that scripts/bootstrap downloads (never installed: it would
pull torch); the wheel is read as a zip. Pinned in requirements/test-assets.txt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO_NAMES = ("bus.jpg", "zidane.jpg")


def ultralytics_version() -> str:
    """The pinned version (scripts/bootstrap downloads the same wheel)."""
    for line in (REPO / "requirements" / "test-assets.txt").read_text().splitlines():
        if line.lower().startswith("ultralytics=="):
            return line.split("==", 1)[1].strip()
    raise RuntimeError("ultralytics is not pinned in requirements/test-assets.txt")


def _wheel_dirs() -> list[Path]:
    dirs = [os.environ.get("NAILA_DOWNLOADS"), os.environ.get("NAILA_CACHE")]
    found = [Path(d) for d in dirs if d]
    found += [Path(d) / "downloads" for d in dirs[1:] if d]
    return [*found, Path.home() / ".cache" / "naila" / "downloads"]


def ultralytics_wheel() -> Path:
    """The wheel from the download cache, fetched once with pip (no dependencies) if missing."""
    version = ultralytics_version()
    for folder in _wheel_dirs():
        hits = sorted(folder.glob(f"ultralytics-{version}-*.whl"))
        if hits:
            return hits[0]
    target = _wheel_dirs()[-1]
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
         f"ultralytics=={version}", "-d", str(target)],
        check=True,
    )  # fmt: skip
    return sorted(target.glob(f"ultralytics-{version}-*.whl"))[0]


def sample_photos() -> dict[str, bytes]:
    """JPEG bytes of bus.jpg and zidane.jpg, read straight out of the wheel."""
    with zipfile.ZipFile(ultralytics_wheel()) as wheel:
        return {name: wheel.read(f"ultralytics/assets/{name}") for name in PHOTO_NAMES}
