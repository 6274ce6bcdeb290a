"""The loop's BlazeFace stage computes the pack's landmarks only for faces the loop reads them of,
on a crop around the box; the points are the ones the landmarker gives on the whole frame.
Faces are the hand-checked boxes of tests/data/faces/face_boxes.json, fitted into 1280x720."""

from __future__ import annotations

import numpy as np
import pytest

from edge.face.packs.base import Detection
from edge.face.probes import FOUND_IOU, as_frame, masked_probes, plain_probes
from edge.pipeline.detector import BlazeFaceAdapter
from edge.vision.boxes import iou


@pytest.fixture(scope="module")
def frames(engine, faces_dir):
    probes = plain_probes(faces_dir) + masked_probes(faces_dir, engine.runtime.landmarker)
    return [as_frame(p.image, p.boxes) for p in probes]


class Counting:
    def __init__(self, inner):
        self.inner, self.calls, self.scheme = inner, 0, inner.scheme

    def landmarks(self, image, det):
        self.calls += 1
        return self.inner.landmarks(image, det)


def test_landmarks_wait_until_read(engine, frames):
    adapter = BlazeFaceAdapter(engine)
    adapter._landmarker = counting = Counting(engine.runtime.landmarker)
    frame, _ = frames[0]
    found = adapter.detect(frame, 0).detections
    assert found and counting.calls == 0
    first = found[0].landmarks
    assert counting.calls == 1 and found[0].landmarks is first  # computed once, then kept


def test_crop_landmarks_are_the_whole_frame_landmarks(engine, frames):
    adapter, landmarker = BlazeFaceAdapter(engine), engine.runtime.landmarker
    compared = 0
    for frame, boxes in frames:
        for d in adapter.detect(frame, 0).detections:
            if max((iou(d.bbox, b) for b in boxes), default=0) < FOUND_IOU:
                continue
            whole = landmarker.landmarks(frame, Detection(d.bbox, d.score))
            assert np.array_equal(d.landmarks, whole), d.bbox
            compared += 1
    assert compared >= 40  # 14 plain + 29 masked faces found in one pass (bench/detector_bench.py)


def test_a_face_at_the_frame_edge(engine, frames):
    """The crop is clipped to the frame; the points still match the whole frame's. The frame is
    moved left until a hand-checked face starts 8 px from its edge."""
    frame, boxes = frames[0]
    x = boxes[0][0]
    edge = np.zeros_like(frame)
    edge[:, : frame.shape[1] - (x - 8)] = frame[:, x - 8 :]
    found = BlazeFaceAdapter(engine).detect(edge, 0).detections
    moved = (8, *boxes[0][1:])
    near = [d for d in found if iou(d.bbox, moved) >= FOUND_IOU]
    assert near
    for d in near:
        whole = engine.runtime.landmarker.landmarks(edge, Detection(d.bbox, d.score))
        assert np.array_equal(d.landmarks, whole)
