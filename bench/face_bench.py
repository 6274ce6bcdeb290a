"""Face engine, ms per stage on the shared photographs: detect, landmarks, align, embed, match 1k/50k.

    .venv/bin/python bench/face_bench.py [--faces DIR] [--json]

Detection is dlib's HOG on each whole photograph as the CLI runs it (upsample 1); the gate loop's
real-time detector is measured by bench/inference_bench.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge.benchmark import default_faces_dir, face_cases, machine, median_ms, search_timings, test_photos
from edge.face.engine import FaceEngine
from edge.face.packs.base import Detection


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=Path, default=default_faces_dir())
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    engine = FaceEngine.load()
    photos = test_photos(args.faces)
    rt = engine.runtime
    px = sum(img.shape[0] * img.shape[1] for _, img in photos) / len(photos)
    detect = median_ms(lambda: [rt.detector.detect(img) for _, img in photos], 3, 1) / len(photos)
    cases = face_cases(engine, photos)
    dets = [(img, Detection(f.bbox, f.score)) for img, f in cases]
    landmarks = median_ms(lambda: [rt.landmarker.landmarks(img, d) for img, d in dets], 5) / len(dets)
    chips = [rt.embedder.align(img, f.landmarks) for img, f in cases]
    align = median_ms(lambda: [rt.embedder.align(img, f.landmarks) for img, f in cases], 5) / len(cases)
    embed = median_ms(lambda: [rt.embedder.embed(c[None]) for c in chips], 5) / len(chips)
    embed_batch = median_ms(lambda: rt.embedder.embed(np.stack(chips)), 5) / len(chips)
    search = search_timings(sizes=(1000, 50000))
    report = {
        "pack": engine.pack, "photos": len(photos), "faces": len(cases), "mean_megapixels": round(px / 1e6, 2),
        "ms": {"detect_per_photo": detect, "landmarks": landmarks, "align": align, "embed": embed,
               "embed_batched": embed_batch, "match_1000": search["1000"], "match_50000": search["50000"]},
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"pack {engine.pack}: {len(photos)} photos (mean {report['mean_megapixels']} MP), {len(cases)} faces; "
          f"{report['machine']['cpu']}, {report['machine']['cores']} cores")
    for stage, ms in report["ms"].items():
        print(f"  {stage:18s} {ms:8.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
