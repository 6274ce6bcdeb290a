"""Optional int8 variant of the converted network: static quantisation in QDQ format.

Kept because it measured faster here (bench/inference_bench.py, `precision: int8`) while the
identification results stay the same (tests/face/test_int8.py). Activations are calibrated on
real face chips: the test photographs in tests/data when present, else the photos shipped inside the
insightface package, or any folder the user names (`menwei models build dlib-resnet --int8
--calibration DIR`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.face.dlib_onnx.converter import INPUT_NAME
from edge.modelpack.manifest import PackError

Progress = Callable[[str], None] | None


def default_calibration_dir() -> Path | None:
    env = os.environ.get("MENWEI_TESTDATA")
    repo = Path(__file__).resolve().parents[3]
    for cand in ([Path(env) / "faces"] if env else []) + [repo / "tests" / "data" / "faces"]:
        if cand.is_dir():
            return cand
    spec = importlib.util.find_spec("insightface")
    if spec and spec.submodule_search_locations:
        images = Path(list(spec.submodule_search_locations)[0]) / "data" / "images"
        if images.is_dir():
            return images
    return None


def calibration_chips(paths: dict[str, Path], directory: Path | None, progress: Progress = None,
                      limit: int = 64) -> np.ndarray:
    """Up to `limit` 150x150 RGB face chips cut (HOG + 5 landmarks + our dlib chip) from photos."""
    import cv2

    from edge.face.dlib_onnx.chip import face_chip
    from edge.face.image_io import iter_image_files, load_image
    from edge.face.packs.base import Detection
    from edge.face.packs.dlib_resnet import DlibLandmarker, HogDetector

    directory = directory or default_calibration_dir()
    if directory is None or not directory.is_dir():
        raise PackError("int8 calibration needs face photographs: give --calibration DIR", code="no_calibration_data")
    det, lm = HogDetector(upsample=1, max_side=1600), DlibLandmarker(paths["landmarks"])
    chips = []
    for p in iter_image_files(directory):
        try:
            img = load_image(p)
        except Exception:  # a bad photo only means one calibration sample fewer
            continue
        for d in det.detect(img):
            chips.append(face_chip(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), lm.landmarks(img, Detection(d.bbox, d.score))))
            if len(chips) >= limit:
                break
        if len(chips) >= limit:
            break
    if len(chips) < 4:
        raise PackError(f"{directory}: only {len(chips)} faces found; int8 calibration needs at least 4",
                        code="no_calibration_data")
    if progress:
        progress(f"calibrating int8 activations on {len(chips)} faces from {directory}")
    return np.stack(chips)


def quantize_int8(fp32_path: Path, out_path: Path, chips: np.ndarray, progress: Progress = None) -> str:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter({INPUT_NAME: c[None].transpose(0, 3, 1, 2).astype(np.float32)} for c in chips)

        def get_next(self):
            return next(self._it, None)

    with tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "q.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(q), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True)
        data = q.read_bytes()
        with open(q, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(q, out_path)
    if progress:
        progress(f"wrote {out_path} ({len(data) / 1e6:.1f} MB)")
    return hashlib.sha256(data).hexdigest()
