"""Measurements behind bench/*.py and `menwei bench inference`: medians in milliseconds, same run.

Timings are measured here, never asserted in tests (a loaded CI machine would make them flaky).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import cv2
    import onnxruntime

    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "onnxruntime": onnxruntime.__version__, "opencv": cv2.__version__}


@contextmanager
def one_core() -> Iterator[None]:
    """Pin the process to a single core so 'single-threaded' cannot borrow a second one."""
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if saved:
        os.sched_setaffinity(0, {min(saved)})
    try:
        yield
    finally:
        if saved:
            os.sched_setaffinity(0, saved)


def median_ms(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def test_photos(faces_dir: Path) -> list[tuple[str, np.ndarray]]:
    from edge.face.image_io import iter_image_files, load_image

    return [(str(p), load_image(p)) for p in iter_image_files(faces_dir)]


def face_cases(engine, photos, limit: int = 16) -> list[tuple[np.ndarray, object]]:
    """(image, face) pairs with landmarks, from the photographs."""
    cases = []
    for _, img in photos:
        for f in engine.detect(img):
            cases.append((img, f))
            if len(cases) >= limit:
                return cases
    return cases


def embed_timings(faces_dir: Path, repeats: int = 5) -> dict:
    """ms per face: dlib's own network (1 core), ONNX on 1 thread (1 core), ONNX on all cores."""
    from edge.face.engine import FaceEngine
    from edge.face.packs.dlib_resnet import DlibNativeEmbedder, OnnxDlibEmbedder

    engine = FaceEngine.load()
    cases = face_cases(engine, test_photos(faces_dir))
    chips = np.stack([engine.runtime.embedder.align(img, f.landmarks) for img, f in cases])
    paths = engine.runtime_paths
    native = DlibNativeEmbedder(paths["embedder_source"])
    one = OnnxDlibEmbedder(paths["embedder"], threads=1)
    allc = OnnxDlibEmbedder(paths["embedder"], threads=os.cpu_count())

    def per_face(emb) -> float:
        return median_ms(lambda: [emb.embed(c[None]) for c in chips], repeats) / len(chips)

    int8 = OnnxDlibEmbedder(FaceEngine.load(precision="int8").runtime_paths["embedder"], threads=1)
    with one_core():
        dlib_ms = median_ms(lambda: [native.embed(c[None]) for c in chips[:8]], max(1, repeats // 2), 1) / 8
        onnx1 = per_face(one)
        int8_1 = per_face(int8)
    onnx_all = per_face(allc)
    batch_all = median_ms(lambda: allc.embed(chips), repeats) / len(chips)
    align_ms = median_ms(lambda: [engine.runtime.embedder.align(img, f.landmarks) for img, f in cases],
                         repeats) / len(cases)
    return {"faces": len(chips), "dlib": dlib_ms, "onnx_1thread": onnx1, "onnx_all": onnx_all,
            "onnx_all_batched": batch_all, "onnx_int8_1thread": int8_1, "align": align_ms,
            "speedup_1thread": dlib_ms / onnx1}


def loop_detection(faces_dir: Path, width: int, height: int, config=None, frames: int | None = None) -> dict:
    """Mean ms per frame of the gate loop's detector on a walk-up scene at width x height."""
    from edge.capture.synthetic import WalkupScene, resident_walkers
    from edge.face.engine import FaceEngine
    from edge.vision.boxes import iou
    from edge.vision.realtime import RealtimeConfig, RealtimeDetector

    engine = FaceEngine.load()
    visitors = resident_walkers(faces_dir)
    k = width / 1280
    scene = WalkupScene(visitors, width=width, height=height, face_px=(int(70 * k), int(260 * k)))
    cfg = config or RealtimeConfig(working_width=min(640, width))
    det = RealtimeDetector(engine.runtime.landmarker, cfg)
    ms, found, present, big = [], 0, 0, 0
    min_face = cfg.min_face_px(width)
    for fr in scene.frames():
        if frames is not None and fr.index >= frames:
            break
        r = det.process(fr.image, fr.index)
        ms.append(r.ms)
        boxes = [d.bbox for _, d in r.detections]
        for g in fr.faces:
            if g[2] >= min_face:
                big += 1
                found += any(iou(g, b) > 0.3 for b in boxes)
            present += 1
    arr = np.array(ms)
    return {"frames": len(ms), "mean": float(arr.mean()), "p50": float(np.median(arr)),
            "p95": float(np.percentile(arr, 95)), "min_face_px": min_face,
            "recall_above_min_face": found / big if big else None}


def full_frame_hog(faces_dir: Path, width: int, height: int, upsample: int = 0) -> float:
    """dlib's HOG on a whole frame (no motion/ROI logic): the baseline the loop detector improves on."""
    import cv2

    from edge.face.packs.dlib_resnet import HogDetector

    img = cv2.resize(test_photos(faces_dir / "misc")[1][1], (width, height))
    hog = HogDetector(upsample=upsample)
    return median_ms(lambda: hog.detect(img), 5)


def search_timings(sizes=(1000, 50000, 500000), dim: int = 128, repeats: int = 21,
                   rows_per_identity: int = 1) -> dict:
    """Median ms of one 1:N search over `sizes` identities; rows_per_identity > 1: each identity's
    extra rows are masked templates (edge/face/masked.py), as enrolment stores them."""
    from edge.face.gallery import Gallery

    rng = np.random.default_rng(0)
    out = {}
    r = rows_per_identity
    for n in sizes:
        m = rng.standard_normal((n * r, dim), dtype=np.float32)
        g = Gallery.from_arrays("bench", [f"id{i // r}" for i in range(n * r)], m,
                                masked=[i % r != 0 for i in range(n * r)])
        q = rng.standard_normal(dim).astype(np.float32)
        out[str(n)] = median_ms(lambda g=g, q=q: g.search(q, k=1), repeats)
    return out


def inference_report(faces_dir: Path, quick: bool = False) -> dict:
    """The figures of `menwei bench inference` (issue contract), plus the detail behind them."""
    embed = embed_timings(faces_dir, repeats=3 if quick else 5)
    frames = 300 if quick else None
    d720 = loop_detection(faces_dir, 1280, 720, frames=frames)
    d360 = loop_detection(faces_dir, 640, 360, frames=frames)
    search = search_timings()
    return {
        "embed_ms": {k: round(embed[k], 2) for k in ("dlib", "onnx_1thread", "onnx_all")},
        "detect_ms": {"640x360": round(d360["mean"], 2), "1280x720": round(d720["mean"], 2)},
        "search_ms": {k: round(v, 3) for k, v in search.items()},
        "machine": machine(),
        "detail": {
            "embed": {k: round(v, 2) if isinstance(v, float) else v for k, v in embed.items()},
            "detect_loop_640x360": d360,
            "detect_loop_1280x720": d720,
            "detect_full_frame_hog_ms": {"640x360": round(full_frame_hog(faces_dir, 640, 360), 2),
                                         "1280x720": round(full_frame_hog(faces_dir, 1280, 720), 2)},
        },
    }


def default_faces_dir() -> Path:
    env = os.environ.get("MENWEI_TESTDATA")
    base = Path(env) if env else Path(__file__).resolve().parents[1] / "tests" / "data"
    return base / "faces"
