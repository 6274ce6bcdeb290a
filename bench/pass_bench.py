"""Visitor pass at the gate: QR read (OpenCV) + Ed25519 verification per 1280x720 frame.

    .venv/bin/python bench/pass_bench.py [--frames 100] [--json]

Two frames from the test photographs: one with a pass held up to the camera (tilted, JPEG), one
without any code (what most frames are). Target (issue "Door and access control"): <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "tests"):
    sys.path.insert(0, str(p))

from test_passes import shown_to_the_camera  # noqa: E402  (the same staging as the test)

from edge.runtime import configure_opencv  # noqa: E402
from edge.vision.qr import QrReader  # noqa: E402
from menwei.passes import VisitorPass, new_signing_key, sign_pass, verify_pass  # noqa: E402


def _time(fn, n: int) -> dict:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(statistics.quantiles(times, n=20)[18], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    configure_opencv()  # as the gate loop runs it
    key, pub = new_signing_key()
    now = int(datetime.now(UTC).timestamp())
    token = sign_pass(VisitorPass(p=uuid.uuid4(), s="s", g=("g",), h="r", nb=now - 60, na=now + 3600), key)
    faces = REPO / "tests" / "data" / "faces"
    with_code = shown_to_the_camera(token, faces)
    import cv2

    without = cv2.imread(str(faces / "misc" / "obama-720p.jpg"))
    reader = QrReader()
    assert reader.read(with_code) == [token]

    def read_and_verify():
        for text in reader.read(with_code):
            verify_pass(text, pub, site_id="s", gate_id="g")

    out = {"frame": "1280x720", "with_pass": _time(read_and_verify, args.frames),
           "without_code": _time(lambda: reader.read(without), args.frames)}
    print(json.dumps(out) if args.json else
          f"with a pass: p50 {out['with_pass']['p50_ms']} ms p95 {out['with_pass']['p95_ms']} ms; "
          f"no code: p50 {out['without_code']['p50_ms']} ms p95 {out['without_code']['p95_ms']} ms (1280x720)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
