"""Embedding speed: the converted ONNX network vs dlib's own, on the same 150x150 chips.

    python -m edge.face.dlib_onnx.bench [--faces DIR] [--onnx PATH] [--repeats N] [--json]

Pins the process to one CPU and runs onnxruntime with intra_op_num_threads=1, so both networks
are measured single-threaded in the same run. Chips are cut from real photographs with our
face_chip (dlib HOG + 5-point landmarks), or random pixels when no photographs are given.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass
class BenchResult:
    faces: int
    onnx_ms_per_face: float  # median over repeats of (one run per chip, batch 1)
    onnx_batch_ms_per_face: float  # all chips in one batch
    dlib_ms_per_face: float
    speedup: float
    chip_ms_per_face: float  # our OpenCV/numpy face_chip, for the record
    threads: int


def default_dat() -> Path:
    import face_recognition_models

    return Path(face_recognition_models.__path__[0]) / "models" / "dlib_face_recognition_resnet_model_v1.dat"


def _ms(fn, items, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        for it in items:
            fn(it)
        runs.append((time.perf_counter() - t) * 1000 / len(items))
    return statistics.median(runs)


def bench_embedding(onnx_path: Path, chips: list[np.ndarray], dat_path: Path | None = None,
                    repeats: int = 3, chip_cases: list[tuple[np.ndarray, np.ndarray]] | None = None,
                    pin_cpu: bool = True) -> BenchResult:
    """ms/face for ONNX (1 thread) and dlib's compute_face_descriptor on the same chips (RGB uint8).

    pin_cpu: run on one core (restored afterwards) so neither library can use a second one.
    """
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if pin_cpu and saved:
        os.sched_setaffinity(0, {min(saved)})
    try:
        return _bench(onnx_path, chips, dat_path, repeats, chip_cases)
    finally:
        if pin_cpu and saved:
            os.sched_setaffinity(0, saved)


def _bench(onnx_path, chips, dat_path, repeats, chip_cases) -> BenchResult:
    import dlib
    import onnxruntime as ort

    from edge.face.dlib_onnx.chip import face_chip
    from edge.face.dlib_onnx.converter import INPUT_NAME

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    x = [c.transpose(2, 0, 1)[None].astype(np.float32) for c in chips]
    for xi in x[:3]:
        sess.run(None, {INPUT_NAME: xi})  # warm-up: first runs allocate
    onnx_ms = _ms(lambda xi: sess.run(None, {INPUT_NAME: xi}), x, repeats)
    batch = np.concatenate(x)
    onnx_batch = _ms(lambda b: sess.run(None, {INPUT_NAME: b}), [batch], repeats) / len(x)

    net = dlib.face_recognition_model_v1(str(dat_path or default_dat()))
    net.compute_face_descriptor(chips[0])
    dlib_ms = _ms(lambda c: net.compute_face_descriptor(c), chips, max(1, repeats // 2))

    chip_ms = float("nan")
    if chip_cases:
        chip_ms = _ms(lambda case: face_chip(case[0], case[1]), chip_cases, repeats)
    return BenchResult(len(chips), round(onnx_ms, 2), round(onnx_batch, 2), round(dlib_ms, 2),
                       round(dlib_ms / onnx_ms, 1), round(chip_ms, 2), 1)


def chips_from_photos(faces_dir: Path, limit: int = 20) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image_rgb, landmarks5) for up to `limit` faces found by dlib's HOG detector in faces_dir."""
    import cv2
    import dlib

    models = default_dat().parent
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    cases = []
    for p in sorted(faces_dir.rglob("*")):
        if p.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        bgr = cv2.imread(str(p))
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        for r in det(rgb, 1 if max(rgb.shape[:2]) < 1000 else 0):
            s = sp(rgb, r)
            cases.append((rgb, np.array([[s.part(i).x, s.part(i).y] for i in range(5)], np.float64)))
            if len(cases) >= limit:
                return cases
    return cases


def main(argv: list[str] | None = None) -> int:
    from edge.face.dlib_onnx.chip import face_chip
    from edge.face.dlib_onnx.converter import build_onnx

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=Path, help="folder of photographs to cut chips from (default: random chips)")
    ap.add_argument("--onnx", type=Path, help="converted model (default: convert now into a temp dir)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = a.onnx or Path(tmp) / "dlib_resnet.onnx"
        if a.onnx is None:
            build_onnx(default_dat(), onnx_path)
        cases = chips_from_photos(a.faces) if a.faces else []
        if cases:
            chips = [face_chip(img, lm) for img, lm in cases]
        else:
            rng = np.random.default_rng(0)
            chips = [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(20)]
        res = bench_embedding(onnx_path, chips, repeats=a.repeats, chip_cases=cases or None)
    if a.json:
        print(json.dumps(asdict(res)))
    else:
        print(f"faces: {res.faces}  (1 thread, pinned to one core)")
        print(f"onnx  : {res.onnx_ms_per_face:7.2f} ms/face one by one, "
              f"{res.onnx_batch_ms_per_face:.2f} ms/face in one batch of {res.faces}")
        print(f"dlib  : {res.dlib_ms_per_face:7.2f} ms/face")
        print(f"speedup: {res.speedup}x   chip cut: {res.chip_ms_per_face} ms/face")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
