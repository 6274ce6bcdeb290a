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
    gate = bsub.add_parser("gate", help="the whole gate pipeline on synthetic walk-up videos",
                           description="Replays synthetic walk-up videos made from the real test photographs "
                           "(several people, one unknown, one at a distance, one with a fever) through detection, "
                           "tracking, quality, embedding, 1:N match, simulated thermal reading and the policy, at "
                           "1280x720 and 640x360, with the fp32 and the int8 network, each run in a fresh process. "
                           "Prints fps, decision latency p50/p95, ms and CPU per stage and peak memory.")
    gate.add_argument("--faces", type=Path, default=None, help="photographs (default: tests/data/faces)")
    gate.add_argument("--quick", action="store_true", help="one run: 640x360, fp32")
    gate.add_argument("--scene", default="demo", help="synthetic scene (default: demo; see edge.capture.synthetic)")
    gate.add_argument("--thermal", default=None, metavar="PROFILE|none",
                      help="simulated thermal sensor: a profile of firmware_configs/thermal (default "
                           "lepton35-purethermal, 8.7 Hz; p2pro is 25 Hz) or none (the pipeline's own latency, "
                           "without the wait for 3 temperature readings)")
    gate.add_argument("--json", action="store_true", help="machine-readable output")
    gate.set_defaults(handler=_gate)


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


def _gate(args) -> int:
    from edge.benchmark import default_faces_dir
    from edge.pipeline.bench import DEFAULT_THERMAL, PRECISIONS, SIZES, gate_report
    from edge.thermal.config import load_profile

    sizes, precisions = (((640, 360),), ("fp32",)) if args.quick else (SIZES, PRECISIONS)
    on_run = None if args.json else _print_gate_run
    thermal = DEFAULT_THERMAL if args.thermal is None else (None if args.thermal == "none" else args.thermal)
    if thermal is not None:
        load_profile(thermal)  # an unknown profile is one line here, not a traceback in the worker
    report = gate_report(args.faces or default_faces_dir(), sizes=sizes, precisions=precisions, scene=args.scene,
                         thermal_profile=thermal, on_run=on_run)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        m = report["machine"]
        print(f"machine: {m['cpu']}, {m['cores']} cores, onnxruntime {m['onnxruntime']}")
    return 0


def _print_gate_run(run: dict) -> None:
    lat, wait = run["latency_ms_from_first_good_frame"], run["camera_wait_ms_from_first_good_frame"]
    print(f"{run['resolution']} {run['precision']} (thermal: {run['thermal']}): {run['fps']} fps ({run['fps_pipeline']} without decoding), "
          f"decision p50 {lat['p50']} ms p95 {lat['p95']} ms after the first good frame (+ camera wait p95 "
          f"{wait['p95']} ms), {run['decisions']} decisions for {run['people']} people ({run['correct']} right; "
          f"undecided: {', '.join(run['undecided']) or 'none'}), peak RSS {run['peak_rss_mb']} MB")
    ev = run["latency_ms_evidence_decisions"]
    print(f"    decided by: {', '.join(f'{t} {n}' for t, n in run['triggers'].items())}; the evidence's "
          f"decisions p50 {ev['p50']} ms p95 {ev['p95']} ms")
    for name, st in run["stages"].items():
        print(f"    {name:15s} {st['ms_per_frame']:8.3f} ms/frame {st['ms_per_call']:8.3f} ms/call "
              f"cpu {st['cpu_pct']:6.1f} % (loop thread {st['thread_cpu_pct']:6.1f} %)")
