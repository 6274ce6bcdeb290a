"""SCRFD decoding and ArcFace alignment/normalisation, on ONNX graphs with the real signatures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from packgraphs import build_embedder, build_scrfd, pool_project

from edge.face.geometry import similarity_transform
from edge.face.packs.align import ARCFACE_DST, norm_crop
from edge.face.packs.insightface import (
    OnnxEmbedder,
    ScrfdDetector,
    anchor_centres,
    distance2bbox,
    distance2kps,
)
from edge.modelpack.manifest import DetectorSpec, InputSpec

# constant outputs, in stride units: (left, top, right, bottom) distances and 5 landmark offsets
BOX = {8: [2, 3, 4, 5], 16: [1, 1, 1, 1], 32: [1.5, 1.5, 1.5, 1.5]}
KPS = {8: [1, 1, 3, 1, 2, 2, 1, 3, 3, 3], 16: [-0.5, -0.5, 0.5, -0.5, 0, 0, -0.5, 0.5, 0.5, 0.5],
       32: [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]}
SPEC = DetectorSpec(size=(640, 640), color="rgb", mean=127.5, std=128.0, score_threshold=0.5, nms_threshold=0.4)
RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)  # BGR


@pytest.fixture(scope="module")
def scrfd_path(tmp_path_factory):
    return build_scrfd(tmp_path_factory.mktemp("scrfd") / "det_test.onnx", BOX, KPS)


def _square(img, x, y, side, colour):
    img[y:y + side, x:x + side] = colour
    return img


def test_one_red_cell_decodes_to_the_hand_computed_box_and_landmarks(scrfd_path):
    det = ScrfdDetector(scrfd_path, SPEC, threads=1)
    img = _square(np.zeros((640, 640, 3), np.uint8), 96, 200, 8, RED)
    faces = det.detect(img)
    # stride-8 cell (col 12, row 25): anchor (96, 200); box 96-2*8, 200-3*8, 96+4*8, 200+5*8; both
    # anchors of the cell give the same box and NMS keeps one
    assert len(faces) == 1
    f = faces[0]
    assert f.bbox == (80, 176, 48, 64)
    assert f.score == pytest.approx((127.5 / 128 + 1) / 2, abs=1e-6)
    expected = np.array([[104, 208], [120, 208], [112, 216], [104, 224], [120, 224]], np.float32)
    np.testing.assert_allclose(f.landmarks, expected, atol=1e-4)


def test_letterbox_maps_back_to_image_pixels(scrfd_path):
    # 1280x960 → scale 0.5 into the 640x640 input (640x480 pasted top-left): the 16 px red square at
    # (192, 400) lands on the same stride-8 cell as above, and everything comes back doubled
    det = ScrfdDetector(scrfd_path, SPEC, threads=1)
    img = _square(np.zeros((960, 1280, 3), np.uint8), 192, 400, 16, RED)
    (f,) = det.detect(img)
    assert f.bbox == (160, 352, 96, 128)
    expected = 2 * np.array([[104, 208], [120, 208], [112, 216], [104, 224], [120, 224]], np.float32)
    np.testing.assert_allclose(f.landmarks, expected, atol=1e-3)


def test_three_strides_three_faces(scrfd_path):
    det = ScrfdDetector(scrfd_path, SPEC, threads=1)
    img = np.zeros((640, 640, 3), np.uint8)
    _square(img, 96, 200, 8, RED)  # stride 8, anchor (96, 200)
    _square(img, 320, 160, 16, GREEN)  # stride 16, anchor (320, 160)
    _square(img, 448, 64, 32, BLUE)  # stride 32, anchor (448, 64)
    boxes = sorted(f.bbox for f in det.detect(img))
    assert boxes == sorted([(80, 176, 48, 64), (304, 144, 32, 32), (400, 16, 96, 96)])


def test_colour_order_matters(scrfd_path):
    # a BGR detector would read the red square as blue: no stride-32 cell is fully covered, nothing fires
    det = ScrfdDetector(scrfd_path, SPEC.model_copy(update={"color": "bgr"}), threads=1)
    img = _square(np.zeros((640, 640, 3), np.uint8), 96, 200, 8, RED)
    assert det.detect(img) == []


def test_matches_insightface_scrfd(scrfd_path, insightface_ref):
    ref = insightface_ref.scrfd.SCRFD(model_file=str(scrfd_path), static_shape_sessions=False)
    ref.prepare(-1, input_size=(640, 640), det_thresh=0.5, nms_thresh=0.4)
    ours = ScrfdDetector(scrfd_path, SPEC, threads=1)
    rng = np.random.default_rng(7)
    img = np.zeros((720, 1280, 3), np.uint8)
    for colour, side in ((RED, 16), (GREEN, 32), (BLUE, 64), (RED, 16)):
        x, y = int(rng.integers(0, 1100)) // side * side, int(rng.integers(0, 560)) // side * side
        _square(img, x, y, side, colour)
    det, kpss = ref.detect(img, input_size=(640, 640))
    boxes, scores, kps = ours.detect_raw(img)
    assert len(det) == len(boxes) >= 3
    o_ref, o_our = np.argsort(det[:, 0] + 1e4 * det[:, 1]), np.argsort(boxes[:, 0] + 1e4 * boxes[:, 1])
    np.testing.assert_allclose(boxes[o_our], det[o_ref, :4], atol=1e-3)
    np.testing.assert_allclose(scores[o_our], det[o_ref, 4], atol=1e-6)
    np.testing.assert_allclose(kps[o_our], kpss[o_ref], atol=1e-3)


def test_decoding_helpers_match_insightface(insightface_ref):
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 640, (50, 2)).astype(np.float32)
    dist = rng.uniform(0, 80, (50, 4)).astype(np.float32)
    kd = rng.uniform(-40, 40, (50, 10)).astype(np.float32)
    np.testing.assert_array_equal(distance2bbox(pts, dist), insightface_ref.scrfd.distance2bbox(pts, dist))
    np.testing.assert_array_equal(distance2kps(pts, kd), insightface_ref.scrfd.distance2kps(pts, kd))
    c = anchor_centres(3, 4, 8, 2)
    assert c.shape == (24, 2)
    assert c[:4].tolist() == [[0, 0], [0, 0], [8, 0], [8, 0]] and c[8].tolist() == [0, 8]


# -- ArcFace ---------------------------------------------------------------------------------------

ARC_SPEC = InputSpec(size=(112, 112), color="rgb", mean=(127.5,) * 3, std=(127.5,) * 3, alignment="arcface-5pt")


def _face_points(rng, noise: float = 1.5) -> np.ndarray:
    """Five landmarks of a plausible rotated, scaled face somewhere in a 640x480 frame."""
    angle, scale = rng.uniform(-0.4, 0.4), rng.uniform(1.2, 2.5)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = rng.uniform([150, 150], [490, 330])
    pts = (ARCFACE_DST - ARCFACE_DST.mean(0)) @ rot.T * scale + centre
    return (pts + rng.normal(0, noise, pts.shape)).astype(np.float32)


def test_similarity_estimate_matches_skimage_and_recovers_a_known_transform():
    from skimage.transform import SimilarityTransform

    rng = np.random.default_rng(3)
    for _ in range(20):
        src = _face_points(rng)
        if hasattr(SimilarityTransform, "from_estimate"):
            t = SimilarityTransform.from_estimate(src, ARCFACE_DST)
        else:
            t = SimilarityTransform()
            t.estimate(src, ARCFACE_DST)
        # skimage normalises the points before solving: agreement to 1e-4 px, far below a pixel
        np.testing.assert_allclose(similarity_transform(src, ARCFACE_DST), t.params[:2], atol=1e-4)
    # exact similarity: rotate 30°, scale 2, shift (10, -5) → recovered exactly
    a = np.deg2rad(30)
    m = np.array([[2 * np.cos(a), -2 * np.sin(a), 10], [2 * np.sin(a), 2 * np.cos(a), -5]])
    src = ARCFACE_DST
    dst = src @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(similarity_transform(src, dst), m, atol=1e-9)


def test_norm_crop_matches_insightface(insightface_ref, faces_dir):
    photo = cv2.imread(str(next(p for p in sorted(faces_dir.rglob("*.jpg")))))
    assert photo is not None
    rng = np.random.default_rng(5)
    for _ in range(5):
        lm = _face_points(rng) * (min(photo.shape[:2]) / 480.0)
        ours = norm_crop(photo, lm)
        ref = insightface_ref.face_align.norm_crop(photo, lm)
        assert ours.shape == (112, 112, 3)
        assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


def test_landmarks_land_on_the_template():
    rng = np.random.default_rng(9)
    lm = _face_points(rng, noise=0.0)  # an exact similarity image of the template
    img = np.zeros((480, 640, 3), np.uint8)
    for x, y in lm:  # a bright dot on every landmark (sub-pixel centre, 3 bits of fraction)
        cv2.circle(img, (int(round(x * 8)), int(round(y * 8))), 24, (255, 255, 255), -1, cv2.LINE_AA, shift=3)
    grey = norm_crop(img, lm)[..., 0].astype(float)
    for tx, ty in ARCFACE_DST:  # each dot's centroid lies on its template position (within 0.3 px)
        y0, x0 = int(ty) - 7, int(tx) - 7
        win = grey[y0:y0 + 15, x0:x0 + 15]
        ys, xs = np.mgrid[y0:y0 + 15, x0:x0 + 15]
        cx, cy = (win * xs).sum() / win.sum(), (win * ys).sum() / win.sum()
        assert abs(cx - tx) < 0.3 and abs(cy - ty) < 0.3


@pytest.fixture(scope="module")
def arcface_model(tmp_path_factory):
    return build_embedder(tmp_path_factory.mktemp("arc") / "w600k_test.onnx", "input.1", "683", 512, "None", 11)


def test_arcface_embedding_is_the_normalised_rgb_chip_through_the_network(arcface_model, faces_dir):
    path, w = arcface_model
    emb = OnnxEmbedder(path, ARC_SPEC, 512, threads=1)
    photo = cv2.imread(str(sorted(faces_dir.rglob("*.jpg"))[0]))
    rng = np.random.default_rng(2)
    lms = [_face_points(rng) * (min(photo.shape[:2]) / 480.0) for _ in range(3)]
    chips = np.stack([emb.align(photo, lm) for lm in lms])
    got = emb.embed(chips)
    # by hand: BGR photo → aligned → RGB → (x - 127.5) / 127.5 → NCHW → network → L2
    for i, lm in enumerate(lms):
        rgb = cv2.cvtColor(norm_crop(photo, lm), cv2.COLOR_BGR2RGB).astype(np.float32)
        blob = ((rgb - 127.5) / 127.5).transpose(2, 0, 1)[None]
        v = pool_project(blob, w)[0]
        np.testing.assert_allclose(got[i], v / np.linalg.norm(v), atol=1e-5)
    assert got.shape == (3, 512) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_arcface_matches_insightface_get_feat(arcface_model, insightface_ref, faces_dir):
    path, _ = arcface_model
    ref = insightface_ref.arcface.ArcFaceONNX(model_file=str(path))
    assert (ref.input_mean, ref.input_std) == (127.5, 127.5)  # insightface reads the same normalisation
    emb = OnnxEmbedder(path, ARC_SPEC, 512, threads=1)
    photo = cv2.imread(str(sorted(faces_dir.rglob("*.jpg"))[-1]))
    lm = _face_points(np.random.default_rng(4)) * (min(photo.shape[:2]) / 480.0)
    aligned_bgr = insightface_ref.face_align.norm_crop(photo, lm)
    r = ref.get_feat(aligned_bgr)[0]
    ours = emb.embed(emb.align(photo, lm)[None])[0]
    assert float(ours @ (r / np.linalg.norm(r))) > 0.99999
