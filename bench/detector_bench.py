"""BlazeFace against dlib's HOG on the hand-checked test photos, plain and with painted masks:
faces found, false detections, ms per photo and per 1280x720 frame, and identification accuracy
with each detector feeding dlib's 5-point landmarks and ResNet.

    .venv/bin/python bench/detector_bench.py [--faces DIR] [--json] [--fit-box]

Probes (edge/face/probes.py): the 16 faces of tests/data/faces/face_boxes.json in 7 photos, and
the same photos with each of the 4 insightface mask textures painted on every face (64 faces).
A face is found when a detection has IoU >= 0.5 with its hand-checked box; a detection with IoU
< 0.2 with every hand-checked box is false. Frames: each photo fitted into 1280x720.
--fit-box refits the BlazeFace → dlib-style box mapping (edge/face/blazeface/dlib_box.py) on the
enrolment photos and calibration strangers (never on the probes).
The machine is shared with other jobs: timings are medians, still noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge.benchmark import default_faces_dir, machine, median_ms


def _detectors(engine):
    from edge.face.blazeface.detector import BlazeFaceDetector
    from edge.face.blazeface.dlib_box import DlibStyleBoxes
    from edge.face.blazeface.tiles import TiledBlazeFace
    from edge.face.packs.dlib_resnet import HogDetector

    onnx = engine.runtime_paths["detector"]
    score = engine.manifest.detector_input.score_threshold
    return {
        "hog": HogDetector(upsample=1),  # the photo detector before BlazeFace (CLI, enrolment)
        "blazeface": engine.runtime.detector,  # the pack's photo detector now
        # the photo pipeline without the second look at weak detections and candidates (tiles.py _refined)
        "blazeface_no_refine": DlibStyleBoxes(TiledBlazeFace(BlazeFaceDetector(onnx, min_score=score, area=True),
                                                             refine=False)),
        "blazeface_no_flip": DlibStyleBoxes(TiledBlazeFace(BlazeFaceDetector(onnx, min_score=score, area=True),
                                                           flip=False)),
        "blazeface_mediapipe_0.6": DlibStyleBoxes(TiledBlazeFace(BlazeFaceDetector(onnx, min_score=0.6,
                                                                                             area=True))),
        "blazeface_untiled": DlibStyleBoxes(BlazeFaceDetector(onnx, min_score=score, area=True)),
    }


class _LoopStage:
    """The loop's whole detect stage on a frame, landmarks read for every face (as when every track
    is undecided: the most the stage costs; the loop reads them only for undecided tracks)."""

    def __init__(self, adapter, index: int = 1):
        self.adapter, self.index = adapter, index

    def detect(self, image):
        found = self.adapter.detect(image, self.index).detections
        for d in found:
            _ = d.landmarks
        return found


class _LoopAsPhoto:
    """A pipeline Detector (frame, index) used as a photo detector (image) for scoring."""

    def __init__(self, adapter, index: int = 0):
        self.adapter, self.index = adapter, index

    def detect(self, image):
        return self.adapter.faces(image, self.index) if hasattr(self.adapter, "faces") else [
            d for d in self.adapter.detect(image, self.index).detections]


def _frame_detectors(engine):
    from edge.face.packs.dlib_resnet import HogDetector
    from edge.pipeline.detector import BlazeFaceAdapter

    return {
        # what RealtimeDetector's full scan runs: HOG on the frame shrunk to 640 px wide
        "hog_scan_640": HogDetector(upsample=0, max_side=640),
        "hog_1280": HogDetector(upsample=0),
        "blazeface_frame": _LoopAsPhoto(BlazeFaceAdapter(engine, tile_every=0)),
        "blazeface_frame_with_landmarks": _LoopStage(BlazeFaceAdapter(engine, tile_every=0)),
        "blazeface_frame_tiles": _LoopAsPhoto(BlazeFaceAdapter(engine, tile_every=1)),
    }


def detection_report(engine, faces: Path) -> dict:
    from edge.face.probes import Probe, as_frame, masked_probes, plain_probes, score

    plain = plain_probes(faces)
    masked = masked_probes(faces, engine.runtime.landmarker)
    photos = {}
    for name, det in _detectors(engine).items():
        ms = median_ms(lambda d=det: [d.detect(p.image) for p in plain], 3, 1) / len(plain)
        photos[name] = {"plain": score(det, plain).as_dict(), "masked": score(det, masked).as_dict(),
                        "ms_per_photo": round(ms, 2)}
    fplain = [Probe(p.name, *as_frame(p.image, p.boxes)) for p in plain]
    fmasked = [Probe(p.name, *as_frame(p.image, p.boxes), p.masked) for p in masked]
    frames = {}
    for name, det in _frame_detectors(engine).items():
        ms = median_ms(lambda d=det: [d.detect(p.image) for p in fplain], 5, 1) / len(fplain)
        frames[name] = {"plain": score(det, fplain).as_dict(), "masked": score(det, fmasked).as_dict(),
                        "ms_per_frame": round(ms, 2)}
    return {"photos": photos, "frames_1280x720": frames}


def identification_report(engine, faces: Path) -> dict:
    """Per photo-detector variant: the hand-checked faces (labelled in face_boxes.json) given the
    right identity or, for people in no gallery (unknown-*), refused; genuine and impostor scores."""
    import json as _json

    from edge.face.blazeface.tiles import TiledBlazeFace
    from edge.face.image_io import load_image
    from edge.face.service import build_folder_gallery
    from edge.vision.boxes import iou

    labelled = _json.loads((faces / "face_boxes.json").read_text())["faces"]
    variants = _detectors(engine)
    base = variants["blazeface"]
    variants = {"hog": variants["hog"], "blazeface": base,
                "blazeface_raw_box": base.detector if isinstance(base.detector, TiledBlazeFace) else base}
    original = engine.runtime.detector
    out = {}
    try:
        for name, det in variants.items():
            engine.runtime.detector = det
            gallery, problems = build_folder_gallery(engine, faces / "knn_examples" / "train")
            right = missed = 0
            genuine, impostor = [], []
            for photo in sorted({f["photo"] for f in labelled}):
                result = engine.identify(load_image(faces / photo), gallery)
                for f in (f for f in labelled if f["photo"] == photo):
                    hit = max(result, key=lambda r, b=tuple(f["box"]): iou(b, r.face.bbox), default=None)
                    if hit is None or iou(tuple(f["box"]), hit.face.bbox) < 0.3 or hit.best is None:
                        missed += 1
                        continue
                    known = not f["label"].startswith("unknown")
                    got = hit.match.identity if hit.match else None
                    right += got == (f["label"] if known else None)
                    if known and hit.best.identity == f["label"]:
                        genuine.append(hit.best.score)
                    elif not known:
                        impostor.append(hit.best.score)
            out[name] = {"enrolled": len(gallery), "enrol_problems": len(problems), "right": right,
                         "faces": len(labelled), "not_found_or_not_embedded": missed,
                         "genuine_min": round(min(genuine), 4) if genuine else None,
                         "impostor_max": round(max(impostor), 4) if impostor else None,
                         "threshold": engine.threshold}
    finally:
        engine.runtime.detector = original
    return out


def fit_box(engine, faces: Path) -> dict:
    """Median dlib-style (HOG) box relative to the BlazeFace box, on photos the probes do not use."""
    from edge.face.image_io import iter_image_files, load_image
    from edge.face.packs.dlib_resnet import HogDetector
    from edge.vision.boxes import iou

    blaze = _detectors(engine)["blazeface"].detector  # raw BlazeFace boxes
    hog = HogDetector(upsample=1)
    rows = []
    photos = list(iter_image_files(faces / "knn_examples/train")) + list(
        iter_image_files(faces.parent / "calibration/strangers"))
    for path in photos:
        img = load_image(path)
        hogs = hog.detect(img)
        for d in blaze.detect(img):
            m = [h for h in hogs if iou(h.bbox, d.bbox) > 0.3]
            if len(m) != 1:
                continue
            x, y, w, h = d.bbox
            X, Y, W, H = m[0].bbox
            rows.append(((X + W / 2 - (x + w / 2)) / w, (Y + H / 2 - (y + h / 2)) / h, W / w, H / h))
    r = np.array(rows)
    keys = ("centre_dx", "centre_dy", "w_ratio", "h_ratio")
    return {"faces": len(rows), "median": dict(zip(keys, np.round(np.median(r, 0), 4).tolist(), strict=True)),
            "std": dict(zip(keys, np.round(r.std(0), 4).tolist(), strict=True))}


def main() -> int:
    from edge.face.engine import FaceEngine

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=Path, default=default_faces_dir())
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--fit-box", action="store_true", help="only refit the BlazeFace → dlib-style box mapping")
    args = ap.parse_args()
    engine = FaceEngine.load()
    if args.fit_box:
        print(json.dumps(fit_box(engine, args.faces), indent=2))
        return 0
    report = {"pack": engine.pack, **detection_report(engine, args.faces),
              "identification": identification_report(engine, args.faces), "machine": machine()}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for group, key in (("photos", "ms_per_photo"), ("frames_1280x720", "ms_per_frame")):
        print(f"{group}: faces found (plain / masked), false detections, ms")
        for name, r in report[group].items():
            p, m = r["plain"], r["masked"]
            print(f"  {name:30s} {p['found']:2d}/{p['faces']} ({p['rate']:.0%})  {m['found']:2d}/{m['faces']} "
                  f"({m['rate']:.0%})  false {p['false']}+{m['false']}  extra {p['extra']}+{m['extra']}  {r[key]:.1f} ms   faces >= 140 px: "
                  f"{p['found_140px']}/{p['faces_140px']}, {m['found_140px']}/{m['faces_140px']}")
    print("identification (dlib 5-point landmarks + ResNet after each photo detector)")
    for name, r in report["identification"].items():
        print(f"  {name:30s} {r['right']}/{r['faces']} right ({r['not_found_or_not_embedded']} not found or not "
              f"embedded), genuine min {r['genuine_min']}, impostor max {r['impostor_max']} "
              f"(threshold {r['threshold']}), enrolled {r['enrolled']}")
    print(f"machine: {report['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
