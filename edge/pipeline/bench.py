"""The gate benchmark behind bench/gate_bench.py and `menwei bench gate`: the whole pipeline on
synthetic walk-up videos made from the real test photographs, figures only (never pass/fail).

Each run (resolution x network precision) happens in a fresh process, so its peak RSS is its own
and one run's caches do not speed up the next. The video is written first (MJPEG, as a USB camera
delivers it) and replayed as fast as it goes; reading and decoding count in `fps` and are also
reported apart (`fps_pipeline`), because on a gate the capture thread decodes on the other core.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SIZES = ((1280, 720), (640, 360))
PRECISIONS = ("fp32", "int8")
# the sensor the gate bench simulates by default: the Lepton 3.5 (8.7 Hz), the slowest of the
# cameras' companions that reads a face at gate distance (the MLX90640 is 4 Hz but for close range)
DEFAULT_THERMAL = "lepton35-purethermal"


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None}
    return {"p50": round(float(np.percentile(values, 50)), 2), "p95": round(float(np.percentile(values, 95)), 2)}


def _score(decisions, truth, enrolled: set[str]) -> dict:
    """People in the scene, decisions made, and decisions naming the person the scene says it was
    (matched to the true face by box overlap at the frame the track was last seen: a track decided
    after it was lost has no box at the decided frame)."""
    from edge.vision.boxes import iou

    labels = {f.label for faces in truth for f in faces}
    correct, per_label = 0, {}
    for d in decisions:
        seen = d.decided_frame if d.last_seen_frame is None else d.last_seen_frame
        faces = truth[seen] if seen < len(truth) else []
        best = max(faces, key=lambda f: iou(f.box, d.box), default=None) if d.box is not None else None
        if best is None or iou(best.box, d.box) <= 0.3:
            continue
        per_label[best.label] = per_label.get(best.label, 0) + 1
        correct += d.identity == (best.label if best.label in enrolled else None)
    return {"people": len(labels), "decisions": len(decisions), "correct": correct,
            "undecided": sorted(labels - set(per_label)),  # e.g. a face too small to recognise (far away)
            "decided_twice": sorted(k for k, n in per_label.items() if n > 1)}


def run_once(faces_dir: str, width: int, height: int, precision: str, scene: str = "demo",
             thermal_profile: str | None = DEFAULT_THERMAL) -> dict:
    """One measured replay (meant to run in its own process). `thermal_profile` names the
    simulated sensor (its frame rate is what a decision waits for: 3 readings from distinct
    sensor frames); None runs without one, which leaves the pipeline's own latency."""
    from edge.capture.source import open_source
    from edge.capture.synthetic import load_truth, named_scene
    from edge.face.engine import FaceEngine
    from edge.face.service import build_folder_gallery
    from edge.pipeline.loop import GatePipeline
    from edge.pipeline.replay import replay
    from edge.pipeline.thermal_reading import ThermalReader
    from edge.pipeline.thermal_sim import TrueFace, TruthThermalFrames
    from edge.runtime import configure_opencv
    from edge.thermal.config import load_profile

    configure_opencv()  # a spawned process: the same thread settings as `menwei` itself
    faces = Path(faces_dir)
    engine = FaceEngine.load(precision=precision)
    gallery, _ = build_folder_gallery(engine, faces / "knn_examples" / "train")
    with tempfile.TemporaryDirectory(prefix="menwei-gate-bench-") as tmp:
        s = named_scene(scene, faces, width=width, height=height)
        video = s.write_video(Path(tmp) / f"{scene}.avi")
        s.save_truth(video.with_suffix(".truth.json"))
        truth = load_truth(video.with_suffix(".truth.json"))
        thermal = None
        if thermal_profile is not None:
            thermal_frames = TruthThermalFrames([[TrueFace(f.box, f.core_temperature_c) for f in fr] for fr in truth],
                                                (width, height), profile=load_profile(thermal_profile))
            thermal = ThermalReader(thermal_frames, thermal_frames.gate_config(), thermal_frames.profile)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = replay(open_source(str(video)), GatePipeline(engine, gallery, thermal=thermal))
    stages = result.stats.stages
    total_cpu = sum(st.process_cpu_s for st in stages.values()) or 1e-9
    read_s = stages["read"].wall_s if "read" in stages else 0.0
    frames = max(1, result.frames)
    return {
        "resolution": f"{width}x{height}", "precision": precision, "scene": scene, "frames": result.frames,
        "thermal": thermal_profile or "none",
        "fps": round(result.fps, 1),
        "fps_pipeline": round(result.frames / max(1e-9, result.wall_s - read_s), 1),
        "latency_ms_from_first_good_frame": _percentiles([d.latency_good_ms for d in result.decisions
                                                          if d.latency_good_ms is not None]),
        "latency_ms_from_first_detection": _percentiles([d.latency_ms for d in result.decisions]),
        # the same over the decisions the evidence made: a timeout or a lost track waited for
        # evidence that never came (a face too far for a temperature), by design
        "latency_ms_evidence_decisions": _percentiles([d.latency_good_ms for d in result.decisions
                                                       if d.trigger == "evidence" and d.latency_good_ms is not None]),
        "triggers": {t: sum(d.trigger == t for d in result.decisions)
                     for t in sorted({d.trigger for d in result.decisions})},
        # what a live camera adds: the frames a decision waits for (temperature readings, a second
        # embedding), in the camera's own time at the scene's fps
        "camera_wait_ms_from_first_good_frame": _percentiles([1000 * (d.decided_frame - d.first_good_frame) / s.fps
                                                              for d in result.decisions
                                                              if d.first_good_frame is not None]),
        "stages": {name: {"ms_per_frame": round(1000 * st.wall_s / frames, 3),
                          "ms_per_call": round(1000 * st.wall_s / max(1, st.calls), 3), "calls": st.calls,
                          # 100 = one core busy for the stage's duration (onnxruntime uses all cores)
                          "cpu_pct": round(100 * st.process_cpu_s / st.wall_s, 1) if st.wall_s else 0.0,
                          # the loop's own thread only (process CPU also counts decoder threads)
                          "thread_cpu_pct": round(100 * st.thread_cpu_s / st.wall_s, 1) if st.wall_s else 0.0,
                          "cpu_share_pct": round(100 * st.process_cpu_s / total_cpu, 1)}
                   for name, st in sorted(stages.items(), key=lambda kv: -kv[1].wall_s)},
        "embeddings": sum(d.embeddings for d in result.decisions),
        **_score(result.decisions, truth, set(gallery.identities)),
        # ru_maxrss is in KiB on Linux; the first figure is before the replay (models and gallery loaded)
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_replay_mb": round(rss_before / 1024, 1),
    }


def gate_report(faces_dir: Path, *, sizes=SIZES, precisions=PRECISIONS, scene: str = "demo",
                thermal_profile: str | None = DEFAULT_THERMAL, on_run=None) -> dict:
    """Every (size, precision) run, each in a fresh process; `on_run(run)` after each."""
    if not (Path(faces_dir) / "knn_examples" / "train").is_dir():
        from menwei.errors import MenweiError

        raise MenweiError(f"{faces_dir}: photographs not found (expected knn_examples/train inside)", "bad_input")
    from edge.benchmark import machine

    runs = []
    ctx = multiprocessing.get_context("spawn")
    for width, height in sizes:
        for precision in precisions:
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                run = pool.submit(run_once, str(faces_dir), width, height, precision, scene,
                                  thermal_profile).result()
            runs.append(run)
            if on_run is not None:
                on_run(run)
    return {"machine": machine(), "scene": scene, "thermal": thermal_profile or "none", "runs": runs}
