"""Real models on real photos: people found with sensible boxes, falls, OCR."""

from __future__ import annotations

import pytest

from wyoming_bridge.vision.analysis import Analyzer, OcrReader, lighting_of, scene_of
from wyoming_bridge.vision.backends import OnnxYoloDetector, UltralyticsDetector
from wyoming_bridge.vision.detection import Detection, iou
from wyoming_bridge.vision.media_decode import decode_image
from wyoming_bridge.vision.models import CompositeDetector, build_one, fall_onnx_file

from .conftest import render_text, to_bgr

# People in bus.jpg (810x1080), hand-measured [x, y, w, h]: left, middle, right edge.
BUS_PEOPLE = [(50, 400, 190, 500), (220, 400, 130, 480), (670, 370, 140, 500)]


def people(found: list[Detection]) -> list[Detection]:
    return [d for d in found if d.label == "person"]


def test_bus_people_found_with_sensible_boxes(detector: CompositeDetector, photos) -> None:
    found = people(detector.detect(to_bgr(photos["bus.jpg"])))
    for expected in BUS_PEOPLE:
        best = max(iou(d.bbox, expected) for d in found)
        assert best > 0.5, f"no person near {expected}: {found}"
    for det in found:
        x, y, w, h = det.bbox
        assert x >= 0 and x + w <= 810 and y >= 0 and y + h <= 1080
        assert h > w  # standing people are taller than wide
        assert not det.fallen


def test_zidane_two_people(detector: CompositeDetector, photos) -> None:
    found = people(detector.detect(to_bgr(photos["zidane.jpg"])))
    assert len(found) >= 2
    centers = sorted(d.bbox[0] + d.bbox[2] / 2 for d in found)
    assert centers[0] < 640 < centers[-1]  # one on the left half, one on the right


@pytest.mark.parametrize("spec", ["coco", "fall"])
def test_each_backend_alone_finds_bus_people(spec: str, photos) -> None:
    backend = build_one(spec, confidence=0.35, iou=0.45, threads=2)
    assert len(people(backend.detect(to_bgr(photos["bus.jpg"])))) >= 3


def test_onnx_class_names_come_from_model_metadata() -> None:
    model = OnnxYoloDetector(fall_onnx_file(), confidence=0.3, iou=0.45)
    assert model.names == {0: "Normal", 1: "Fall"}
    assert model.size == (640, 640)


def test_fall_model_sees_people_lying_down(detector: CompositeDetector, fallen_photo) -> None:
    found = detector.detect(to_bgr(fallen_photo))
    fallen = [d for d in found if d.fallen]
    assert fallen and all(d.label == "person" for d in fallen)
    _x, _y, w, h = fallen[0].bbox
    assert w > h  # lying: wider than tall


async def test_ocr_reads_rendered_invoice(analyzer: Analyzer) -> None:
    image = decode_image(render_text("Invoice No. 4711"), 10_000_000)
    result = await analyzer.analyze(image.bgr, with_ocr=True)
    assert "Invoice No. 4711" in result.text_detected
    assert "Invoice No. 4711" in result.description()


def test_ocr_on_photo_without_text_is_empty(ocr_reader: OcrReader) -> None:
    blank = to_bgr(render_text(""))
    assert ocr_reader.read(blank) == []


def test_ultralytics_backend_when_installed(photos) -> None:
    pytest.importorskip("ultralytics", reason="optional extra; its torch stack is absent here")
    model = UltralyticsDetector(fall_onnx_file().with_name("best.pt"), confidence=0.35, iou=0.45)
    assert len(people(model.detect(to_bgr(photos["bus.jpg"])))) >= 3


def test_scene_and_lighting_from_what_is_seen(photos) -> None:
    assert scene_of(["person", "car", "bus", "laptop"]) == "outdoor_street"
    assert scene_of(["person", "laptop", "mouse"]) == "indoor_office"
    assert scene_of(["person"]) == "unknown"
    assert lighting_of(to_bgr(photos["bus.jpg"])) == "bright"
    assert lighting_of(to_bgr(photos["bus.jpg"]) // 8) == "dark"
