"""Runs detection (and OCR when asked) off the event loop and summarises the result."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .detection import Detection, Detector

_LOGGER = logging.getLogger(__name__)


@dataclass
class Analysis:
    """What one image shows: the `analysis` object of the visual context (docs/vision.md)."""

    objects: list[Detection]
    width: int
    height: int
    text_detected: list[str] = field(default_factory=list)
    lighting: str = "unknown"
    detect_ms: float = 0.0

    @property
    def labels(self) -> list[str]:
        return sorted({d.label for d in self.objects})

    @property
    def fallen(self) -> list[Detection]:
        return [d for d in self.objects if d.fallen]

    def description(self) -> str:
        """Plain-English summary, e.g. '3 persons and 1 bus; 1 person appears to have fallen'."""
        if not self.objects:
            text = "no recognised objects"
        else:
            counts = Counter(d.label for d in self.objects)
            parts = [f"{n} {label}{'s' if n > 1 else ''}" for label, n in counts.most_common()]
            text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        if self.fallen:
            text += f"; {len(self.fallen)} person appears to have fallen"
        if self.text_detected:
            text += "; visible text: " + " | ".join(self.text_detected)
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description(),
            "objects": [d.to_json() for d in self.objects],
            "scene_type": scene_of([d.label for d in self.objects]),
            "lighting": self.lighting,
            "text_detected": list(self.text_detected),
        }


_SCENES: tuple[tuple[str, frozenset[str]], ...] = (
    ("outdoor_street", frozenset({"car", "bus", "truck", "traffic light", "stop sign",
                                  "motorcycle", "bicycle", "parking meter", "fire hydrant"})),
    ("indoor_office", frozenset({"laptop", "keyboard", "mouse", "monitor"})),
    ("indoor_kitchen", frozenset({"oven", "microwave", "refrigerator", "sink", "toaster"})),
    ("indoor_living_room", frozenset({"couch", "tv", "remote"})),
    ("indoor_bedroom", frozenset({"bed"})),
    ("indoor", frozenset({"chair", "dining table", "book", "toilet", "potted plant", "clock"})),
    ("outdoor", frozenset({"bench", "bird", "horse", "cow", "sheep", "boat", "airplane"})),
)  # fmt: skip


def scene_of(labels: list[str]) -> str:
    """Coarse scene guess from the objects seen (COCO labels); 'unknown' without clues."""
    best, hits = "unknown", 0
    for scene, clues in _SCENES:
        found = sum(1 for label in labels if label in clues)
        if found > hits:
            best, hits = scene, found
    return best


def lighting_of(image_bgr: np.ndarray) -> str:
    """Coarse lighting from mean brightness of a downscaled grey image."""
    small = image_bgr[::8, ::8].mean()
    return "dark" if small < 50 else "dim" if small < 100 else "bright"


class OcrReader:
    """rapidocr (PP-OCR on ONNX Runtime), loaded on first use."""

    def __init__(self, min_score: float = 0.5) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()
        self.min_score = min_score

    def read(self, image_bgr: np.ndarray) -> list[str]:
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR  # noqa: PLC0415 (slow import, on first use)

                self._engine = RapidOCR()
            result = self._engine(image_bgr)
        texts = result.txts or ()
        scores = result.scores or ()
        return [t for t, s in zip(texts, scores, strict=False) if s >= self.min_score and t.strip()]


class Analyzer:
    """One worker thread for inference so detection never piles up on 2 cores."""

    def __init__(self, detector: Detector, ocr: OcrReader | None, workers: int = 1) -> None:
        self.detector = detector
        self.ocr = ocr
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vision")

    def analyze_blocking(self, image_bgr: np.ndarray, *, with_ocr: bool) -> Analysis:
        start = time.perf_counter()
        objects = self.detector.detect(image_bgr)
        detect_ms = (time.perf_counter() - start) * 1000
        text = self.ocr.read(image_bgr) if with_ocr and self.ocr is not None else []
        height, width = image_bgr.shape[:2]
        _LOGGER.debug("detected %d objects in %.0f ms", len(objects), detect_ms)
        return Analysis(objects, width, height, text, lighting_of(image_bgr), detect_ms)

    async def analyze(self, image_bgr: np.ndarray, *, with_ocr: bool = False) -> Analysis:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: self.analyze_blocking(image_bgr, with_ocr=with_ocr)
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
