"""How a person's temperature readings spread over a walk-up, as the gate loop takes them.

Why the loop waits for 3 readings from distinct sensor frames (PipelineConfig.temperature_readings)
instead of deciding on the first: the first reading comes from the smallest face of the walk-up
and reads low. This replays the synthetic walk-ups (real photographs, simulated Lepton frames
rendered from the scene's true core temperatures, real decoders and estimate) with the loop asked
for up to 10 readings, records every reading, and prints per person: the first reading, the
median of the first 1 / 3 / all readings, each minus the true core temperature.

    .venv/bin/python bench/thermal_walkup_bench.py [--scene walkup --scene fever ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FACES = Path(__file__).resolve().parents[1] / "tests/data/faces"


def run_scene(engine, gallery, name: str, width: int, height: int, readings: int) -> list[dict]:
    from edge.capture.source import open_source
    from edge.capture.synthetic import load_truth, named_scene
    from edge.pipeline.loop import GatePipeline
    from edge.pipeline.replay import replay
    from edge.pipeline.thermal_reading import ThermalReader, is_valid
    from edge.pipeline.thermal_sim import TrueFace, TruthThermalFrames
    from edge.pipeline.types import PipelineConfig
    from edge.vision.boxes import iou

    with tempfile.TemporaryDirectory(prefix="menwei-thermal-walkup-") as tmp:
        scene = named_scene(name, FACES, width=width, height=height)
        video = scene.write_video(Path(tmp) / f"{name}.avi")
        scene.save_truth(video.with_suffix(".truth.json"))
        truth = load_truth(video.with_suffix(".truth.json"))
        frames = TruthThermalFrames([[TrueFace(f.box, f.core_temperature_c) for f in fr] for fr in truth],
                                    (width, height))
        log: list[tuple[int, tuple, object]] = []

        class Recording(ThermalReader):
            def read(self, frame, face, thermal):
                reading = super().read(frame, face, thermal)
                log.append((frame.index, face.bbox, reading))
                return reading

        reader = Recording(frames, frames.gate_config(), frames.profile)
        config = PipelineConfig(temperature_readings=readings)
        replay(open_source(str(video)), GatePipeline(engine, gallery, thermal=reader, config=config))
    per: dict[str, list] = {}
    for index, box, reading in log:
        faces = truth[index] if index < len(truth) else []
        best = max(faces, key=lambda f: iou(f.box, box), default=None)
        if best is None or iou(best.box, box) <= 0.3 or not is_valid(reading):
            continue
        per.setdefault(best.label, []).append((best.core_temperature_c, box[2], reading.celsius))
    out = []
    for label, rows in per.items():
        core = rows[0][0]
        temps = [r[2] for r in rows]
        out.append({"scene": name, "person": label, "core_c": core, "readings": len(temps),
                    "face_px_first_last": [rows[0][1], rows[-1][1]],
                    "first_minus_core": round(temps[0] - core, 2),
                    "median3_minus_core": round(median(temps[:3]) - core, 2),
                    "median_all_minus_core": round(median(temps) - core, 2),
                    "spread_c": round(max(temps) - min(temps), 2)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scene", action="append", help="synthetic scene (repeatable; default walkup, fever, pair)")
    ap.add_argument("--size", default="640x360", help="frame size WxH (default 640x360)")
    ap.add_argument("--readings", type=int, default=10, help="readings the loop collects per person (default 10)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from edge.face.engine import FaceEngine
    from edge.face.service import build_folder_gallery
    from edge.runtime import configure_opencv

    configure_opencv()
    width, height = (int(v) for v in args.size.lower().split("x"))
    engine = FaceEngine.load()
    gallery, _ = build_folder_gallery(engine, FACES / "knn_examples" / "train")
    rows = [r for name in (args.scene or ["walkup", "fever", "pair"])
            for r in run_scene(engine, gallery, name, width, height, args.readings)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'scene':8s} {'person':16s} {'core':>5s} {'n':>3s} {'face px':>9s} {'first':>6s} {'med3':>6s} "
          f"{'all':>6s} {'spread':>6s}   (readings minus the true core temperature, °C)")
    for r in rows:
        px = "{}-{}".format(*r["face_px_first_last"])
        print(f"{r['scene']:8s} {r['person']:16s} {r['core_c']:5.1f} {r['readings']:3d} {px:>9s} "
              f"{r['first_minus_core']:+6.2f} {r['median3_minus_core']:+6.2f} {r['median_all_minus_core']:+6.2f} "
              f"{r['spread_c']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
