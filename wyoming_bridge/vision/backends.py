"""Detector backends: ONNX Runtime (ultralytics YOLO exports), OpenCV darknet, ultralytics."""

from __future__ import annotations

import ast
import logging
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from .detection import Detection, clip_box, make_detection, nms

_LOGGER = logging.getLogger(__name__)


def letterbox(image_bgr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float, int, int]:
    """Resize keeping aspect ratio and pad with grey 114 (ultralytics); returns img, ratio, pads."""
    target_h, target_w = size
    h, w = image_bgr.shape[:2]
    ratio = min(target_h / h, target_w / w)
    new_w, new_h = round(w * ratio), round(h * ratio)
    canvas = np.full((target_h, target_w, 3), 114, dtype=np.uint8)
    left, top = (target_w - new_w) // 2, (target_h - new_h) // 2
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, ratio, left, top


def parse_names(text: str | None) -> dict[int, str]:
    """Class names from ultralytics ONNX metadata: "{0: 'person', 1: 'bicycle', ...}"."""
    if not text:
        return {}
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        _LOGGER.warning("unreadable class names in model metadata: %.80s", text)
        return {}
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        return dict(enumerate(str(v) for v in value))
    return {}


def nms_groups(names: dict[int, str]) -> np.ndarray:
    """Class -> NMS group: classes naming the same object (Normal/Fall = person) compete."""
    labels = [
        make_detection(names.get(i, str(i)), 0.0, (0, 0, 0, 0)).label
        for i in range(max(names, default=0) + 1)
    ]
    return np.array([labels.index(label) for label in labels], dtype=np.int64)


class OnnxYoloDetector:
    """YOLOv5u/v8/v11 exported by ultralytics to ONNX: output 1 x (4 + classes) x N, no NMS."""

    def __init__(self, path: Path, *, confidence: float, iou: float, threads: int = 2) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        meta = self.session.get_modelmeta().custom_metadata_map
        self.names = parse_names(meta.get("names"))
        self.nms_groups = nms_groups(self.names)
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_dtype = np.float16 if "float16" in model_input.type else np.float32
        shape = model_input.shape
        if isinstance(shape[2], int) and isinstance(shape[3], int):
            self.size = (shape[2], shape[3])
        else:
            imgsz = ast.literal_eval(meta.get("imgsz", "[640, 640]"))
            self.size = (int(imgsz[0]), int(imgsz[1]))
        self.confidence = confidence
        self.iou = iou
        self.name = path.stem
        _LOGGER.info(
            "ONNX detector %s: %d classes, input %s", path.name, len(self.names), self.size
        )

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """Letterbox, BGR->RGB, HWC->NCHW, scale to 0..1."""
        boxed, ratio, left, top = letterbox(image_bgr, self.size)
        tensor = boxed[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        return np.ascontiguousarray(tensor, dtype=self.input_dtype), ratio, left, top

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Bare ONNX Runtime call (the benchmark's baseline)."""
        return np.asarray(self.session.run(None, {self.input_name: tensor})[0])

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        tensor, ratio, left, top = self.preprocess(image_bgr)
        output = self.infer(tensor)[0].astype(np.float32)
        if output.shape[0] < output.shape[1]:  # (4 + nc, N) -> (N, 4 + nc)
            output = output.T
        scores = output[:, 4:]
        classes = scores.argmax(axis=1)
        conf = scores[np.arange(len(classes)), classes]
        keep = conf >= self.confidence
        boxes, classes, conf = output[keep, :4], classes[keep], conf[keep]
        xywh = np.stack(
            [
                (boxes[:, 0] - boxes[:, 2] / 2 - left) / ratio,
                (boxes[:, 1] - boxes[:, 3] / 2 - top) / ratio,
                boxes[:, 2] / ratio,
                boxes[:, 3] / ratio,
            ],
            axis=1,
        )
        height, width = image_bgr.shape[:2]
        return [
            make_detection(
                self.names.get(int(classes[i]), str(int(classes[i]))),
                float(conf[i]),
                clip_box(xywh[i].tolist(), width, height),
            )
            for i in nms(xywh, conf, self.nms_groups[classes], self.confidence, self.iou)
        ]


class DarknetDetector:
    """Darknet YOLO (.cfg + .weights) through OpenCV's dnn module (OpenCV < 5)."""

    def __init__(
        self, cfg: Path, weights: Path, names: Path | None, *, confidence: float, iou: float
    ) -> None:
        self.net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
        self.outputs = self.net.getUnconnectedOutLayersNames()
        labels = names.read_text().splitlines() if names and names.exists() else []
        self.names = {i: n.strip() for i, n in enumerate(labels) if n.strip()}
        self.size = _darknet_size(cfg)
        self.confidence = confidence
        self.iou = iou
        self.name = cfg.stem
        self._lock = threading.Lock()  # a cv2.dnn.Net is not safe to share between threads
        _LOGGER.info(
            "darknet detector %s: %d classes, input %s", cfg.name, len(self.names), self.size
        )

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        height, width = image_bgr.shape[:2]
        blob = cv2.dnn.blobFromImage(image_bgr, 1 / 255, self.size[::-1], swapRB=True, crop=False)
        with self._lock:
            self.net.setInput(blob)
            outs = self.net.forward(self.outputs)
        rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in outs])
        scores = rows[:, 5:]  # OpenCV already multiplies class scores by objectness
        classes = scores.argmax(axis=1)
        conf = scores[np.arange(len(classes)), classes]
        keep = conf >= self.confidence
        rows, classes, conf = rows[keep], classes[keep], conf[keep]
        xywh = np.stack(
            [
                (rows[:, 0] - rows[:, 2] / 2) * width,
                (rows[:, 1] - rows[:, 3] / 2) * height,
                rows[:, 2] * width,
                rows[:, 3] * height,
            ],
            axis=1,
        )
        return [
            make_detection(
                self.names.get(int(classes[i]), str(int(classes[i]))),
                float(conf[i]),
                clip_box(xywh[i].tolist(), width, height),
            )
            for i in nms(xywh, conf, classes, self.confidence, self.iou)
        ]


def _darknet_size(cfg: Path) -> tuple[int, int]:
    values: dict[str, int] = {}
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("width", "height") and key.strip() not in values:
            values[key.strip()] = int(value.strip())
    return values.get("height", 416), values.get("width", 416)


class UltralyticsDetector:
    """Optional: any ultralytics model (.pt) where the ultralytics package imports."""

    def __init__(self, path: Path, *, confidence: float, iou: float) -> None:
        from ultralytics import YOLO  # noqa: PLC0415 (optional extra, needs torch)

        self.model: Any = YOLO(str(path))
        self.confidence = confidence
        self.iou = iou
        self.name = path.stem
        self._lock = threading.Lock()

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        with self._lock:
            results = self.model.predict(
                image_bgr, conf=self.confidence, iou=self.iou, verbose=False
            )
        height, width = image_bgr.shape[:2]
        found: list[Detection] = []
        for result in results:
            names = result.names
            for xyxy, conf, cls in zip(
                result.boxes.xyxy.tolist(),
                result.boxes.conf.tolist(),
                result.boxes.cls.tolist(),
                strict=True,
            ):
                x1, y1, x2, y2 = xyxy
                box = clip_box([x1, y1, x2 - x1, y2 - y1], width, height)
                found.append(make_detection(str(names[int(cls)]), float(conf), box))
        return found
