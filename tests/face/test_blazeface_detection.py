"""The default pack's detector (BlazeFace) on the hand-checked photos, plain and masked.

Expected boxes are tests/data/faces/face_boxes.json (a third detector's proposals checked by eye);
masks are painted from dlib's 5 landmarks on those boxes (edge/face/probes.py), so neither the
expected boxes nor the masks come from the detector under test. The floors sit below what
bench/detector_bench.py measured (plain 16/16, masked 56/64 of which 24/24 faces >= 140 px wide,
HOG 17/64), so the tests check the behaviour, not the last digit.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.face import errors
from edge.face.errors import FaceError
from edge.face.image_io import decode_image
from edge.face.packs.dlib_resnet import HogDetector
from edge.face.probes import FOUND_IOU, GATE_FACE_PX, masked_probes, plain_probes, score
from edge.vision.boxes import iou


@pytest.fixture(scope="module")
def masked(engine, faces_dir):
    return masked_probes(faces_dir, engine.runtime.landmarker)


def test_the_default_pack_detects_with_blazeface(engine):
    assert engine.manifest.detector == "blazeface"
    assert type(engine.runtime.detector).__name__ == "DlibStyleBoxes"


def test_every_hand_checked_face_is_found_and_nothing_else(engine, faces_dir):
    probes = plain_probes(faces_dir)
    assert sum(len(p.boxes) for p in probes) == 16
    for p in probes:
        got = [f.bbox for f in engine.detect(p.image)]
        for box in p.boxes:
            assert max(iou(box, g) for g in got) >= FOUND_IOU, (p.name, box)
        assert len(got) == len(p.boxes), p.name


def test_masked_faces_are_found(engine, masked):
    s = score(engine.runtime.detector, masked)
    assert s.faces == 64
    assert s.false == 0
    assert s.large_found >= 0.95 * s.large_faces  # faces the size they are at a gate
    assert s.rate >= 0.8  # all sizes, down to the 80-px faces of the group photo


def test_blazeface_finds_masked_faces_hog_misses(engine, masked):
    hog, blaze = HogDetector(upsample=1), engine.runtime.detector
    only_blaze = only_hog = 0
    for p in masked:
        h = [d.bbox for d in hog.detect(p.image)]
        b = [d.bbox for d in blaze.detect(p.image)]
        for box in p.boxes:
            in_h = max((iou(box, g) for g in h), default=0) >= FOUND_IOU
            in_b = max((iou(box, g) for g in b), default=0) >= FOUND_IOU
            only_blaze += in_b and not in_h
            only_hog += in_h and not in_b
    assert only_blaze >= 25 and only_blaze >= 5 * only_hog


def test_masked_probes_cover_gate_sized_faces(masked):
    assert sum(b[2] >= GATE_FACE_PX for p in masked for b in p.boxes) >= 20


@pytest.mark.parametrize("image", [np.zeros((0, 0, 3), np.uint8), np.zeros((10, 10, 2), np.uint8), None])
def test_no_image_is_a_clear_error(engine, image):
    with pytest.raises(FaceError) as exc:
        engine.detect(image)
    assert exc.value.code == errors.BAD_IMAGE


def test_a_grey_photo_is_looked_at(engine, faces_dir):
    import cv2

    grey = cv2.cvtColor(cv2.imread(str(faces_dir / "knn_examples/test/obama1.jpg")), cv2.COLOR_BGR2GRAY)
    assert len(engine.runtime.detector.detect(grey)) == 1


def test_a_corrupt_file_is_a_clear_error():
    with pytest.raises(FaceError) as exc:
        decode_image(b"\xff\xd8\xff\xe0 not really a jpeg", "corrupt.jpg")
    assert exc.value.code == errors.UNREADABLE_IMAGE


def test_mirrored_pass_keeps_the_keypoint_order(engine, faces_dir):
    """MediaPipe's order is the person's right eye first (the image's left): the mirror pass must
    swap its keypoints back, or the merged keypoints would average two different eyes."""
    probe = next(p for p in plain_probes(faces_dir) if p.name.endswith("obama1.jpg"))
    (det,) = engine.runtime.detector.detect(probe.image)
    right_eye, left_eye = det.keypoints[0], det.keypoints[1]
    assert right_eye[0] < left_eye[0]
    x, _, w, _ = det.bbox
    assert x < right_eye[0] < x + w / 2 < left_eye[0] < x + w
