"""YuNet decoding and SFace alignment/embedding, checked by hand and against OpenCV's FaceDetectorYN /
FaceRecognizerSF running the same ONNX graphs."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from packgraphs import build_embedder, build_yunet, pool_project

from edge.face.packs.align import ARCFACE_DST, norm_crop
from edge.face.packs.insightface import OnnxEmbedder
from edge.face.packs.yunet_sface import YuNetDetector
from edge.modelpack.manifest import DetectorSpec, InputSpec

# constant outputs: (dx, dy, log w, log h) in stride units, and 5 landmark offsets from the cell corner
BBOX = {8: [0.5, 0.5, math.log(4), math.log(6)], 16: [0.0, 0.0, math.log(2), math.log(2)],
        32: [1.0, 0.5, math.log(3), math.log(3)]}
KPS = {8: [0.25, 0.25, 0.75, 0.25, 0.5, 0.5, 0.25, 0.75, 0.75, 0.75],
       16: [0.2, 0.2, 0.8, 0.2, 0.5, 0.5, 0.3, 0.8, 0.7, 0.8],
       32: [0.1, 0.1, 0.9, 0.1, 0.5, 0.5, 0.2, 0.9, 0.8, 0.9]}
SPEC = DetectorSpec(size=(640, 640), color="bgr", mean=0.0, std=1.0, score_threshold=0.9, nms_threshold=0.3,
                    top_k=5000)
RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)  # BGR


@pytest.fixture(scope="module")
def yunet_path(tmp_path_factory):
    return build_yunet(tmp_path_factory.mktemp("yunet") / "face_detection_yunet_test.onnx", BBOX, KPS)


def _square(img, x, y, side, colour):
    img[y:y + side, x:x + side] = colour
    return img


def test_one_cell_decodes_to_the_hand_computed_face(yunet_path):
    det = YuNetDetector(yunet_path, SPEC, threads=1)
    assert det.input_size == (640, 640)  # the graph's fixed input
    img = _square(np.zeros((640, 640, 3), np.uint8), 96, 200, 8, RED)
    (f,) = det.detect(img)
    # stride-8 cell (col 12, row 25): centre ((12 + .5) * 8, (25 + .5) * 8) = (100, 204), size 4*8 x 6*8
    assert f.bbox == (84, 180, 32, 48)
    assert f.score == pytest.approx(1.0, abs=1e-6)
    expected = np.array([[98, 202], [102, 202], [100, 204], [98, 206], [102, 206]], np.float32)
    np.testing.assert_allclose(f.landmarks, expected, atol=1e-4)


def test_score_is_the_geometric_mean_and_threshold_applies(yunet_path):
    det = YuNetDetector(yunet_path, SPEC.model_copy(update={"score_threshold": 0.5}), threads=1)
    img = _square(np.zeros((640, 640, 3), np.uint8), 96, 200, 8, (0, 0, 64))  # cls = 64/255, obj = 1
    (f,) = det.detect(img)
    assert f.score == pytest.approx(math.sqrt(64 / 255), abs=1e-6)
    assert YuNetDetector(yunet_path, SPEC, threads=1).detect(img) == []  # 0.50 < 0.9


def test_letterbox_into_the_fixed_input(yunet_path):
    # 1280x720 → scale 0.5 → 640x360 top-left of the 640x640 input; a 32 px green square at (640, 320)
    # fills stride-16 cell (col 20, row 10): centre (320, 160), 32x32 → doubled back
    det = YuNetDetector(yunet_path, SPEC, threads=1)
    img = _square(np.zeros((720, 1280, 3), np.uint8), 640, 320, 32, GREEN)
    (f,) = det.detect(img)
    assert f.bbox == (608, 288, 64, 64)
    np.testing.assert_allclose(f.landmarks[2], [2 * (20.5 * 16), 2 * (10.5 * 16)], atol=1e-3)


def test_matches_opencv_face_detector_yn(yunet_path):
    ref = cv2.FaceDetectorYN.create(str(yunet_path), "", (640, 640), 0.9, 0.3, 5000)
    ours = YuNetDetector(yunet_path, SPEC, threads=1)
    img = np.zeros((640, 640, 3), np.uint8)
    _square(img, 96, 200, 8, RED)
    _square(img, 320, 160, 16, GREEN)
    _square(img, 448, 64, 32, BLUE)
    _square(img, 32, 480, 64, BLUE)  # four stride-32 cells
    _, faces = ref.detect(img)
    assert faces is not None and len(faces) >= 4
    boxes, scores, kps = ours.detect_raw(img)
    assert len(boxes) == len(faces)
    o_ref = np.lexsort((faces[:, 0], faces[:, 1]))
    o_our = np.lexsort((boxes[:, 0], boxes[:, 1]))
    np.testing.assert_allclose(boxes[o_our], faces[o_ref, :4], atol=1e-3)
    np.testing.assert_allclose(kps[o_our].reshape(-1, 10), faces[o_ref, 4:14], atol=1e-3)
    np.testing.assert_allclose(scores[o_our], faces[o_ref, 14], atol=1e-5)


SFACE_SPEC = InputSpec(size=(112, 112), color="rgb", mean=(0.0,) * 3, std=(1.0,) * 3, alignment="sface-5pt")


@pytest.fixture(scope="module")
def sface_model(tmp_path_factory):
    # the real SFace graph: input "data" [1, 3, 112, 112], output "fc1" [1, 128]
    return build_embedder(tmp_path_factory.mktemp("sface") / "sface_test.onnx", "data", "fc1", 128, 1, 21)


def _face_row(rng, shape) -> np.ndarray:
    """A FaceDetectorYN-style row (x, y, w, h, 5 landmarks, score) of a plausible face in the frame."""
    h, w = shape[:2]
    angle, scale = rng.uniform(-0.3, 0.3), rng.uniform(0.15, 0.3) * min(h, w) / 60
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = rng.uniform([0.3 * w, 0.3 * h], [0.7 * w, 0.7 * h])
    lm = (ARCFACE_DST - ARCFACE_DST.mean(0)) @ rot.T * scale + centre + rng.normal(0, 1.0, (5, 2))
    x0, y0 = lm.min(0) - 20
    x1, y1 = lm.max(0) + 20
    return np.array([x0, y0, x1 - x0, y1 - y0, *lm.reshape(-1), 0.95], np.float32)


def test_sface_alignment_and_features_match_opencv(sface_model, faces_dir):
    path, w = sface_model
    ref = cv2.FaceRecognizerSF.create(str(path), "")
    emb = OnnxEmbedder(path, SFACE_SPEC, 128, threads=1)
    photos = sorted(faces_dir.rglob("*.jpg"))[:3]
    rng = np.random.default_rng(8)
    chips, refs = [], []
    for p in photos:
        img = cv2.imread(str(p))
        row = _face_row(rng, img.shape)
        lm = row[4:14].reshape(5, 2)
        aligned_ref = ref.alignCrop(img, row)  # BGR 112x112
        ours_bgr = norm_crop(img, lm)
        assert np.abs(ours_bgr.astype(int) - aligned_ref.astype(int)).max() <= 1
        chips.append(emb.align(img, lm))
        refs.append(ref.feature(aligned_ref).reshape(-1))
    got = emb.embed(np.stack(chips))  # three chips through a batch-1 graph
    assert got.shape == (3, 128)
    for g, r in zip(got, refs, strict=True):
        assert float(g @ (r / np.linalg.norm(r))) > 0.99999
    # and by hand: RGB raw 0..255 (no mean, no scale), NCHW
    blob = np.stack(chips).astype(np.float32).transpose(0, 3, 1, 2)
    v = pool_project(blob, w)
    np.testing.assert_allclose(got, v / np.linalg.norm(v, axis=1, keepdims=True), atol=1e-5)
