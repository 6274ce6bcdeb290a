"""The default pack: BlazeFace (or dlib's HOG) detector, dlib's 5-point landmarks, dlib's ResNet run
by onnxruntime.

BlazeFace is the default detector (it finds masked faces HOG misses: docs/FACE.md); its boxes are
redrawn dlib-style before the shape predictor runs, and detector="hog" brings HOG back. Only HOG
and the landmarks call dlib; the 150x150 chip is cut with OpenCV and the network runs
through onnxruntime (converted once from dlib's own weights, see edge/face/dlib_onnx).
`DlibNativeEmbedder` keeps dlib's own network as the reference the benchmark and tests compare with.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import dlib
import numpy as np

from edge.face.gallery import l2_normalise
from edge.face.packs.base import Detection, PackRuntime
from edge.modelpack.manifest import PackError
from edge.runtime import onnx_session


def to_grey(image: np.ndarray) -> np.ndarray:
    """HOG and the shape predictor look at intensity only; grey input is ~20% faster than RGB."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


class HogDetector:
    """dlib's HOG frontal-face detector. `upsample` doubles the image that many times (range)."""

    def __init__(self, upsample: int = 0, min_score: float = 0.0, max_side: int | None = None):
        self._det = dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.min_score = min_score
        self.max_side = max_side  # downscale larger images first: HOG time grows with pixels

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        img = image_bgr
        scale = 1.0
        if self.max_side and max(img.shape[:2]) > self.max_side:
            scale = self.max_side / max(img.shape[:2])
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._det.run(to_grey(img), self.upsample, self.min_score)
        out = []
        for r, s in zip(rects, scores, strict=True):
            x, y = r.left() / scale, r.top() / scale
            w, h = r.width() / scale, r.height() / scale
            out.append(Detection((int(round(x)), int(round(y)), int(round(w)), int(round(h))), float(s)))
        return out


class DlibLandmarker:
    """dlib's 5-point shape predictor: eye corners and the base of the nose."""

    scheme = "dlib5"

    def __init__(self, model_path: Path):
        self._sp = dlib.shape_predictor(str(model_path))

    def landmarks(self, image_bgr: np.ndarray, det: Detection) -> np.ndarray:
        x, y, w, h = det.bbox
        rect = dlib.rectangle(int(x), int(y), int(x + w - 1), int(y + h - 1))
        shape = self._sp(to_grey(image_bgr), rect)
        return np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], dtype=np.float32)


def _full_object_detection(landmarks: np.ndarray) -> dlib.full_object_detection:
    xs, ys = landmarks[:, 0], landmarks[:, 1]
    rect = dlib.rectangle(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    return dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks])


class OnnxDlibEmbedder:
    """dlib's ResNet converted to ONNX; chips cut by our OpenCV reproduction of dlib's face chip."""

    dim = 128

    def __init__(self, onnx_path: Path, threads: int | None = None):
        from edge.face.dlib_onnx import face_chip

        self._chip = face_chip
        self._sess = onnx_session(onnx_path, threads=threads)
        self._input = self._sess.get_inputs()[0].name

    def align(self, image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        # Sampling is per channel, so cutting from BGR and flipping the 150x150 chip equals cutting from
        # RGB, without converting the whole frame once per face.
        return np.ascontiguousarray(self._chip(image_bgr, landmarks, size=150, padding=0.25)[..., ::-1])

    def embed(self, chips: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(np.asarray(chips, dtype=np.float32).transpose(0, 3, 1, 2))
        out = self._sess.run(None, {self._input: batch})[0]
        return l2_normalise(out)


class DlibNativeEmbedder:
    """dlib's own chip and network: the reference the ONNX path is measured against."""

    dim = 128

    def __init__(self, model_path: Path):
        self._net = dlib.face_recognition_model_v1(str(model_path))

    def align(self, image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        return dlib.get_face_chip(rgb, _full_object_detection(landmarks), size=150, padding=0.25)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        descs = [np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(c))) for c in chips]
        return l2_normalise(np.stack(descs)) if descs else np.zeros((0, self.dim), np.float32)


def photo_detector(manifest, paths: dict[str, Path], detector: str | None = None, *, upsample: int = 1,
                   max_side: int | None = None, threads: int | None = None):
    """The detector for photos: BlazeFace full range, tiled, dlib-style boxes; or HOG."""
    kind = detector or manifest.detector
    if kind == "dlib-hog" or kind == "hog":
        return HogDetector(upsample=upsample, max_side=max_side)
    if kind != "blazeface":
        raise PackError(f"pack {manifest.name!r}: detector must be blazeface or hog, not {kind!r}", code="bad_option")
    from edge.face.blazeface.detector import BlazeFaceDetector
    from edge.face.blazeface.dlib_box import DlibStyleBoxes
    from edge.face.blazeface.tiles import TiledBlazeFace

    if "detector" not in paths:
        raise PackError(f"pack {manifest.name!r}: BlazeFace is not built; run `menwei models build {manifest.name}`",
                        code="pack_not_installed")
    spec = manifest.detector_input
    return DlibStyleBoxes(TiledBlazeFace(BlazeFaceDetector(
        paths["detector"], min_score=spec.score_threshold if spec else None, threads=threads or 1,
        area=True)))


def build_runtime(manifest, paths: dict[str, Path], *, upsample: int = 1, max_side: int | None = None,
                  native: bool = False, threads: int | None = None, detector: str | None = None) -> PackRuntime:
    embedder = (DlibNativeEmbedder(paths["embedder_source"]) if native
                else OnnxDlibEmbedder(paths["embedder"], threads=threads))
    return PackRuntime(
        name=manifest.name,
        detector=photo_detector(manifest, paths, detector, upsample=upsample, max_side=max_side, threads=threads),
        landmarker=DlibLandmarker(paths["landmarks"]),
        embedder=embedder,
        scheme="dlib5",
    )
