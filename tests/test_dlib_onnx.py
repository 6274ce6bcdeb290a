"""dlib ResNet → ONNX converter and the dlib-free face chip, checked against dlib itself.

dlib stays the reference here: its network (compute_face_descriptor) and its chip
(get_face_chip) are run on the same real photographs as our reader/converter/chip.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import dlib
import face_recognition_models
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge.face.dlib_onnx import (
    INPUT_NAME,
    OUTPUT_NAME,
    DlibFormatError,
    build_onnx,
    face_chip,
    read_dlib_resnet,
)
from edge.face.errors import FaceError

MODELS = Path(face_recognition_models.__path__[0]) / "models"
DAT = MODELS / "dlib_face_recognition_resnet_model_v1.dat"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("dlib_onnx") / "dlib_resnet.onnx"
    messages: list[str] = []
    sha = build_onnx(DAT, out, progress=messages.append)
    assert messages, "build_onnx reported no progress"
    return out, sha


@pytest.fixture(scope="session")
def session(onnx_model) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(onnx_model[0]), so, providers=["CPUExecutionProvider"])


def _embed(sess: ort.InferenceSession, chips: list[np.ndarray]) -> np.ndarray:
    x = np.stack([c.transpose(2, 0, 1) for c in chips]).astype(np.float32)
    return sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0]


@dataclass
class Face:
    image: str
    rgb: np.ndarray
    shape: dlib.full_object_detection

    @property
    def landmarks(self) -> np.ndarray:
        return np.array([[self.shape.part(i).x, self.shape.part(i).y] for i in range(5)], dtype=np.float64)


@pytest.fixture(scope="session")
def faces(faces_dir) -> list[Face]:
    """Every face dlib's HOG detector finds in every test photograph, with 5-point landmarks."""
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(MODELS / "shape_predictor_5_face_landmarks.dat"))
    out = []
    for path in sorted(p for p in faces_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        bgr = cv2.imread(str(path))
        assert bgr is not None, path
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        upsample = 1 if max(rgb.shape[:2]) < 1000 else 0  # small faces in small images need 2x
        for rect in det(rgb, upsample):
            out.append(Face(str(path.relative_to(faces_dir)), rgb, sp(rgb, rect)))
    assert len({f.image for f in out}) >= 15, "the detector should find faces in most test photographs"
    return out


# ---- reader -----------------------------------------------------------------------------------


def test_reader_finds_anet_type_layers_and_input_layer():
    net = read_dlib_resnet(DAT)
    kinds = [layer.kind for layer in net.layers]
    # 1 stem conv + 14 residual blocks x 2 convs; each conv has its affine and relu.
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("relu") == 29
    assert kinds.count("add_prev") == 14
    assert kinds.count("avg_pool") == 5  # 4 downsampling shortcuts + avg_pool_everything
    assert kinds.count("max_pool") == 1 and kinds.count("fc") == 1
    stem = net.layers[0]
    assert stem.weights["W"].shape == (32, 3, 7, 7) and stem.attrs["stride"] == (2, 2)
    fc = net.layers[-1]
    assert fc.kind == "fc" and fc.weights["W"].shape == (256, 128)
    convs = [layer for layer in net.layers if layer.kind == "con"]
    assert convs[-1].weights["W"].shape == (256, 256, 3, 3)
    assert net.input_size == (150, 150)
    # input_rgb_image_sized's defaults (dnn/input.h), read from the file through dlib's float format
    assert np.allclose(net.mean_rgb, (122.782, 117.001, 104.298), atol=1e-4)
    assert net.loss["distance_threshold"] == pytest.approx(0.6, abs=1e-6)
    for layer in net.layers:
        for arr in layer.weights.values():
            assert arr.dtype == np.float32 and np.isfinite(arr).all()


def test_reader_rejects_truncated_and_foreign_files(tmp_path):
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(DAT.read_bytes()[:1_000_000])
    with pytest.raises(DlibFormatError, match="end of file"):
        read_dlib_resnet(truncated)
    with pytest.raises(DlibFormatError):
        read_dlib_resnet(MODELS / "shape_predictor_5_face_landmarks.dat")
    with pytest.raises(DlibFormatError, match="cannot read"):
        read_dlib_resnet(tmp_path / "missing.dat")


# ---- converter --------------------------------------------------------------------------------


def test_build_writes_valid_model_and_returns_its_sha256(onnx_model):
    path, sha = onnx_model
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert not list(path.parent.glob("*.part")), "temporary file left behind"
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert "BatchNormalization" not in ops and "Mul" not in ops  # affine and input scale folded
    inp, out = model.graph.input[0], model.graph.output[0]
    assert inp.name == INPUT_NAME and out.name == OUTPUT_NAME
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim][1:] == [3, 150, 150]


def test_build_is_deterministic(onnx_model, tmp_path):
    assert build_onnx(DAT, tmp_path / "again.onnx") == onnx_model[1]


def test_dynamic_batch_gives_same_rows_as_single(session):
    rng = np.random.default_rng(7)
    chips = [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(3)]
    batch = _embed(session, chips)
    assert batch.shape == (3, 128) and batch.dtype == np.float32
    for i, chip in enumerate(chips):
        np.testing.assert_allclose(_embed(session, [chip])[0], batch[i], atol=1e-5)


def test_onnx_matches_dlib_network_on_dlibs_own_chips(session, faces):
    rec = dlib.face_recognition_model_v1(str(DAT))
    sample = faces[::3]  # a third of the faces: the same network, every layer, on varied chips
    chips = [dlib.get_face_chip(f.rgb, f.shape, 150, 0.25) for f in sample]
    ours = _embed(session, chips)
    for f, chip, mine in zip(sample, chips, ours, strict=True):
        ref = np.array(rec.compute_face_descriptor(chip))
        assert _cos(ref, mine) >= 0.9999, f.image
        # raw descriptors, not normalised: same length as dlib's too
        assert np.linalg.norm(mine) == pytest.approx(np.linalg.norm(ref), rel=1e-4)


# ---- chip and the whole dlib-free path --------------------------------------------------------


def test_face_chip_reproduces_dlib_get_face_chip(faces):
    sizes = []
    for f in faces:
        ref = dlib.get_face_chip(f.rgb, f.shape, 150, 0.25)
        ours = face_chip(f.rgb, f.landmarks)
        assert ours.shape == (150, 150, 3) and ours.dtype == np.uint8
        diff = np.abs(ref.astype(np.int16) - ours)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.001, f.image
        sizes.append(np.ptp(f.landmarks[:, 0]))
    # the set must include faces large enough for dlib's pyramid downsampling (eye span >> chip's ~60 px)
    assert max(sizes) > 200


def _fod(points: np.ndarray) -> dlib.full_object_detection:
    pts = [dlib.point(int(x), int(y)) for x, y in np.round(points)]
    return dlib.full_object_detection(dlib.rectangle(0, 0, 10, 10), pts)


@pytest.fixture(scope="module")
def big_face(faces_dir) -> tuple[np.ndarray, np.ndarray]:
    rgb = cv2.cvtColor(cv2.imread(str(faces_dir / "knn_examples/train/biden/biden2.jpg")), cv2.COLOR_BGR2RGB)
    det = dlib.get_frontal_face_detector()(rgb, 0)[0]
    shape = dlib.shape_predictor(str(MODELS / "shape_predictor_5_face_landmarks.dat"))(rgb, det)
    return rgb, np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], dtype=np.float64)


@pytest.mark.parametrize("case", ["cut_left", "cut_top", "scale_0.1", "scale_3", "rotate_90", "rotate_-40",
                                  "outside"])
def test_face_chip_matches_dlib_at_borders_scales_and_rotations(big_face, case):
    """Faces cut by the image border, tiny (no pyramid) and huge (3+ pyramid levels), rotated, and
    wholly outside the image: the bounding-box clipping, pyramid and black-outside rules."""
    img, lm = big_face
    cx, cy = (int(v) for v in lm.mean(0))
    if case == "cut_left":
        img, lm = img[:, cx:], lm - [cx, 0]
    elif case == "cut_top":
        img, lm = img[cy:], lm - [0, cy]
    elif case.startswith("scale"):
        s = float(case.split("_")[1])
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        lm = lm * s
    elif case.startswith("rotate"):
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(case.split("_")[1]), 1.0)
        img, lm = cv2.warpAffine(img, m, (w, h)), lm @ m[:, :2].T + m[:, 2]
    else:
        lm = lm + [5000, 0]
    img, lm = np.ascontiguousarray(img), np.round(lm)
    ref = dlib.get_face_chip(img, _fod(lm), 150, 0.25)
    ours = face_chip(img, lm)
    diff = np.abs(ref.astype(np.int16) - ours)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001
    if case == "outside":
        assert ours.max() == 0


def test_face_chip_keeps_the_channel_order_it_is_given():
    """The engine cuts from BGR frames and flips the chip: that must equal cutting from RGB."""
    rng = np.random.default_rng(11)
    bgr = rng.integers(0, 256, (400, 360, 3), dtype=np.uint8)
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    # a tilted face about 120 px wide (dlib order: one eye's outer, inner corner, the other's, nose)
    lm = np.array([[250.0, 160.0], [215.0, 163.0], [130.0, 170.0], [165.0, 168.0], [190.0, 230.0]])
    from_bgr, from_rgb = face_chip(bgr, lm), face_chip(rgb, lm)
    assert from_bgr.any()
    np.testing.assert_array_equal(from_bgr[..., ::-1], from_rgb)


def test_face_chip_rejects_bad_input():
    img = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(FaceError):
        face_chip(img.astype(np.float32), np.zeros((5, 2)))
    with pytest.raises(FaceError):
        face_chip(img, np.zeros((68, 2)))


def test_dlib_free_path_matches_compute_face_descriptor_on_every_face(session, faces):
    rec = dlib.face_recognition_model_v1(str(DAT))
    ours = _embed(session, [face_chip(f.rgb, f.landmarks) for f in faces])
    per_image: dict[str, float] = {}
    for f, mine in zip(faces, ours, strict=True):
        ref = np.array(rec.compute_face_descriptor(f.rgb, f.shape))
        per_image[f.image] = min(per_image.get(f.image, 1.0), _cos(ref, mine))
    for image, worst in sorted(per_image.items()):
        print(f"{image}: min cosine {worst:.8f}")
    bad = {k: v for k, v in per_image.items() if v < 0.995}
    assert not bad, bad


def test_bench_function_runs_and_restores_cpu_affinity(onnx_model):
    from edge.face.dlib_onnx.bench import bench_embedding

    before = os.sched_getaffinity(0)
    rng = np.random.default_rng(1)
    chips = [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(2)]
    res = bench_embedding(onnx_model[0], chips, repeats=1)
    assert res.faces == 2 and res.onnx_ms_per_face > 0 and res.dlib_ms_per_face > 0
    assert os.sched_getaffinity(0) == before
