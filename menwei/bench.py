"""`menwei bench …`: the benchmarks users run on their own gate box (figures, never pass/fail)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure this machine: embedding, detection, 1:N search",
                       description="Benchmarks print medians in milliseconds measured in one run.")
    bsub = p.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    inf = bsub.add_parser("inference", help="dlib vs ONNX embedding, loop detection, 1:N search",
                          description="Times dlib's own embedding and the ONNX embedding on the same faces "
                          "(single-threaded on one core, and with all cores), the gate loop's detector per frame "
                          "at 640x360 and 1280x720 on a synthetic walk-up scene, and 1:N search at 1k/50k/500k.")
    inf.add_argument("--faces", type=Path, default=None, help="photographs (default: tests/data/faces)")
    inf.add_argument("--quick", action="store_true", help="fewer repeats and frames")
    inf.add_argument("--json", action="store_true", help="machine-readable output")
    inf.set_defaults(handler=_inference)


def _inference(args) -> int:
    from edge.benchmark import default_faces_dir, inference_report
    from menwei.errors import MenweiError

    faces = args.faces or default_faces_dir()
    if not faces.is_dir():
        raise MenweiError(f"{faces}: photographs not found (use --faces DIR)")
    report = inference_report(faces, quick=args.quick)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    e, d, s = report["embed_ms"], report["detect_ms"], report["search_ms"]
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, onnxruntime {m['onnxruntime']}")
    print(f"embedding  dlib {e['dlib']:.2f} ms | onnx 1 thread {e['onnx_1thread']:.2f} ms "
          f"({e['dlib'] / e['onnx_1thread']:.1f}x faster) | onnx all cores {e['onnx_all']:.2f} ms | "
          f"int8 1 thread {report['detail']['embed']['onnx_int8_1thread']:.2f} ms")
    full = report["detail"]["detect_full_frame_hog_ms"]
    for res in ("640x360", "1280x720"):
        loop = report["detail"][f"detect_loop_{res}"]
        print(f"detection  {res}: {d[res]:.2f} ms/frame mean in the loop (p95 {loop['p95']:.1f}, "
              f"smallest face {loop['min_face_px']:.0f} px; whole-frame HOG {full[res]:.1f} ms)")
    print("1:N search " + " | ".join(f"{n}: {v:.3f} ms" for n, v in s.items()))
    return 0
