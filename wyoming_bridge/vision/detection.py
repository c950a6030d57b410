"""Detection results and the small geometry helpers shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class Detection:
    """One object in source-image pixels; bbox is [x, y, w, h] as in the visual context."""

    label: str
    confidence: float
    bbox: tuple[int, int, int, int]
    fallen: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "label": self.label,
            "confidence": round(self.confidence, 3),
            "bbox": list(self.bbox),
        }
        if self.fallen:
            data["fallen"] = True
        return data


class Detector(Protocol):
    """A blocking detector: call it from an executor, never on the event loop."""

    name: str

    def detect(self, image_bgr: np.ndarray) -> list[Detection]: ...


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two [x, y, w, h] boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def nms(
    boxes_xywh: np.ndarray, scores: np.ndarray, classes: np.ndarray, conf: float, iou_thr: float
) -> list[int]:
    """Class-aware non-maximum suppression (OpenCV), returns kept indices."""
    if len(scores) == 0:
        return []
    # offset boxes per class so different classes never suppress each other
    offset = classes.astype(np.float32)[:, None] * 8192.0
    shifted = boxes_xywh.astype(np.float32).copy()
    shifted[:, :2] += offset
    kept = cv2.dnn.NMSBoxes(shifted.tolist(), scores.astype(float).tolist(), conf, iou_thr)
    return [int(i) for i in np.array(kept).reshape(-1)]


def clip_box(box: list[float], width: int, height: int) -> tuple[int, ...]:
    """Clip an [x, y, w, h] box to the image and round to ints."""
    x, y, w, h = box
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(float(width), x + w), min(float(height), y + h)
    return (round(x1), round(y1), max(0, round(x2 - x1)), max(0, round(y2 - y1)))


FALL_LABELS = {"fall": True, "fallen": True, "normal": False}
"""Class names of fall models: each is a person, 'Fall' ones are lying down."""


def make_detection(label: str, confidence: float, box: tuple[int, ...]) -> Detection:
    """Map fall-model classes (Normal/Fall) to a `person` with the `fallen` flag."""
    bbox = (box[0], box[1], box[2], box[3])
    fallen = FALL_LABELS.get(label.lower())
    if fallen is not None:
        return Detection("person", confidence, bbox, fallen=fallen)
    return Detection(label, confidence, bbox)


def merge(groups: list[list[Detection]], same_iou: float = 0.5) -> list[Detection]:
    """Merge outputs of several models: one person per overlapping pair, fallen if either says."""
    merged: list[Detection] = []
    for group in groups:
        for det in group:
            twin = next(
                (
                    i
                    for i, other in enumerate(merged)
                    if other.label == det.label and iou(other.bbox, det.bbox) >= same_iou
                ),
                None,
            )
            if twin is None:
                merged.append(det)
                continue
            other = merged[twin]
            best = det if det.confidence > other.confidence else other
            merged[twin] = Detection(
                best.label, best.confidence, best.bbox, fallen=det.fallen or other.fallen
            )
    return sorted(merged, key=lambda d: -d.confidence)
