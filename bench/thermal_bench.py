"""Thermal processing speed: ms per frame for each decoder and for the estimate.

    .venv/bin/python bench/thermal_bench.py [--repeat N] [--json]

Target (docs/DESIGN.md): thermal frame processing ≤ 2 ms on a 2-core x86 dev machine.
Frames are simulated (a face at 1 m, 22 °C room) and encoded to each sensor's raw bytes first,
so the timings cover exactly what the gate does per frame: bytes → °C → estimate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_MS = 2.0


def _time(fn, repeat: int) -> dict:
    for _ in range(min(20, repeat)):  # warm caches / lazy imports
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"mean_ms": statistics.fmean(samples), "p50_ms": samples[len(samples) // 2],
            "p95_ms": samples[int(len(samples) * 0.95) - 1]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from edge.thermal import decoders, mlx90640
    from edge.thermal.config import ThermalConfig, load_profile
    from edge.thermal.estimate import estimate
    from edge.thermal.sim import Scene, SceneEncoder, SimFace, decode_raw

    face = SimFace(distance_m=1.0, core_c=37.0)
    scene = Scene(ambient_c=22.0, faces=(face,))
    results: dict[str, dict] = {}
    for name in ("lepton35-purethermal", "p2pro", "mlx90640"):
        prof = load_profile(name)
        enc = SceneEncoder(prof, seed=1)
        raw = enc.encode(scene)[0]
        frame = decode_raw(prof, raw)
        if prof.format == "lepton-y16":
            results["decode lepton-y16 160x122 (telemetry)"] = _time(
                lambda raw=raw: decoders.decode_lepton_y16(raw), args.repeat)
        elif prof.format == "p2pro":
            results["decode p2pro 256x384 YUYV"] = _time(lambda raw=raw: decoders.decode_p2pro(raw), args.repeat)
        else:
            ee, frames = mlx90640.read_dump(raw)
            dec = mlx90640.Mlx90640Decoder(ee)
            it = iter(range(10**9))
            results["decode mlx90640 subpage (full calibration maths)"] = _time(
                lambda dec=dec, frames=frames, it=it: dec.feed(frames[next(it) % 2]), args.repeat)
            results["mlx90640 EEPROM parameter extraction (once per connect)"] = _time(
                lambda ee=ee: mlx90640.extract_parameters(ee), max(20, args.repeat // 10))
        cfg = ThermalConfig(sensor=name, homography=tuple(map(tuple, enc.rig.homography)))
        box, canthi = enc.rig.observe(face)
        results[f"estimate on {prof.format}"] = _time(
            lambda frame=frame, cfg=cfg, prof=prof, box=box, canthi=canthi, enc=enc: estimate(
                box, canthi, enc.rig.rgb_size, cfg.H, frame, cfg, prof), args.repeat)
    if args.json:
        print(json.dumps({k: {m: round(v, 4) for m, v in r.items()} for k, r in results.items()}))
        return 0
    width = max(len(k) for k in results)
    print(f"{'step':{width}}  mean ms   p50 ms   p95 ms   (target ≤ {TARGET_MS} ms per frame)")
    for k, r in results.items():
        print(f"{k:{width}}  {r['mean_ms']:7.3f}  {r['p50_ms']:7.3f}  {r['p95_ms']:7.3f}")
    per_frame = {
        "lepton-y16": results["decode lepton-y16 160x122 (telemetry)"]["mean_ms"] + results["estimate on lepton-y16"]["mean_ms"],
        "p2pro": results["decode p2pro 256x384 YUYV"]["mean_ms"] + results["estimate on p2pro"]["mean_ms"],
        "mlx90640": results["decode mlx90640 subpage (full calibration maths)"]["mean_ms"]
        + results["estimate on mlx90640"]["mean_ms"],
    }
    for fmt, ms in per_frame.items():
        verdict = "OK" if ms <= TARGET_MS else "OVER TARGET"
        print(f"decode + estimate, {fmt}: {ms:.3f} ms/frame  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
