"""Per-frame detection time of the vision service beside bare ONNX Runtime on the same model.

Both sides get the same JPEG camera frames (bus.jpg and zidane.jpg from the ultralytics
wheel, alternating), interleaved frame by frame so machine load hits both alike:
  baseline  bare ONNX Runtime: `session.run` of the fall model (YOLOv8n, 640x640) on an
            already letterboxed tensor: the least work any detector must do per frame.
  service   `VisionService.handle_video_frame(camera, jpeg)` with only that model: JPEG decode,
            letterbox, the same session.run, box decoding + NMS, alert debounce, live-frame
            cache (no broker connected: alerts are dropped with a warning).
A second service line runs the default model set (YOLOv3-tiny COCO + fall model).

    .venv/bin/python -m bench.vision_detect            # ~1 min
    .venv/bin/python -m bench.vision_detect --frames 10
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script or with -m

import cv2
import numpy as np

from naila_sim.photos import sample_photos
from wyoming_bridge.vision.analysis import Analyzer
from wyoming_bridge.vision.backends import OnnxYoloDetector
from wyoming_bridge.vision.config import VisionConfig
from wyoming_bridge.vision.models import build_detector, fall_onnx_file
from wyoming_bridge.vision.service import VisionService

REPO = Path(__file__).resolve().parents[1]


def test_photos() -> list[bytes]:
    """bus.jpg and zidane.jpg out of the ultralytics wheel (downloaded once, without deps)."""
    return list(sample_photos().values())


def service_for(models: tuple[str, ...], threads: int) -> VisionService:
    config = VisionConfig(models=models, threads=threads, ocr="off", alert_cooldown=1e9)
    detector = build_detector(models, confidence=config.confidence, iou=config.iou, threads=threads)
    return VisionService(config, Analyzer(detector, None))


def summary(name: str, times: list[float], base: float | None) -> str:
    med = statistics.median(times) * 1000
    p90 = sorted(times)[int(0.9 * (len(times) - 1))] * 1000
    ratio = f"{med / base:5.2f}x" if base else "1.00x"
    return f"{name:<44} median {med:7.1f} ms   p90 {p90:7.1f} ms   {ratio}"


def _decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("test photo does not decode")
    return np.asarray(image)


async def run(frames: int, threads: int) -> None:
    photos = test_photos()
    bare = OnnxYoloDetector(fall_onnx_file(), confidence=0.35, iou=0.45, threads=threads)
    tensors = [bare.preprocess(_decode(photo))[0] for photo in photos]
    fall_only = service_for(("fall",), threads)
    default = service_for(("coco", "fall"), threads)
    for svc in (fall_only, default):  # warm-up: first runs allocate
        await svc.handle_video_frame("warmup", photos[0])
    bare.infer(tensors[0])

    times: dict[str, list[float]] = {"bare": [], "fall": [], "default": []}
    for i in range(frames):
        jpeg, tensor = photos[i % 2], tensors[i % 2]
        start = time.perf_counter()
        bare.infer(tensor)
        times["bare"].append(time.perf_counter() - start)
        for key, svc in (("fall", fall_only), ("default", default)):
            start = time.perf_counter()
            assert await svc.handle_video_frame(f"cam{i % 3}", jpeg) is not None
            times[key].append(time.perf_counter() - start)

    base = statistics.median(times["bare"]) * 1000
    print(f"vision per-frame detection, {frames} frames (810x1080 / 1280x720 JPEG), "
          f"{threads} ONNX Runtime threads, {os.cpu_count()} cores")  # fmt: skip
    print(summary("bare ONNX Runtime session.run (fall YOLOv8n)", times["bare"], None))
    print(summary("service handle_video_frame, same model", times["fall"], base))
    print(summary("service handle_video_frame, default coco+fall", times["default"], base))
    paired = [(s - b) * 1000 for s, b in zip(times["fall"], times["bare"], strict=True)]
    print(
        "service overhead over bare inference (same model, frame by frame): "
        f"median {statistics.median(paired):+.1f} ms"
    )
    for svc in (fall_only, default):
        svc.analyzer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.frames, args.threads))


if __name__ == "__main__":
    main()
