"""bench/vision_detect.py still runs and prints its ratios (2 frames, no timing asserted)."""

from __future__ import annotations

import re

import pytest

from bench.vision_detect import main


@pytest.mark.slow
def test_vision_bench_prints_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--frames", "2"])
    out = capsys.readouterr().out
    assert re.search(r"bare ONNX Runtime .* 1\.00x", out)
    assert re.search(r"service handle_video_frame, same model .* \d+\.\d\dx", out)
    assert "overhead" in out
