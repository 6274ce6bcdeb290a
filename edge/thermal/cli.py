"""`menwei thermal …`: decode raw sensor frames, calibrate registration and offset, list
profiles, write simulated frames. Heavy imports stay inside the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

FORMATS = ("lepton-y16", "p2pro", "mlx90640")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "thermal", help="thermal sensors: decode frames, calibrate registration/offset, profiles",
        description="Thermal screening tools. Commodity sensors are a triage aid: a fever alarm needs a "
                    "clinical re-check. Formats and defaults: docs/THERMAL.md.")
    tsub = p.add_subparsers(dest="thermal_command", metavar="ACTION", required=True)

    d = tsub.add_parser("decode", help="decode one raw frame as the device delivers it",
                        description="Decode one raw frame and print its temperature statistics. "
                                    "lepton-y16: 160x120 or 160x122 little-endian uint16 (centikelvin); "
                                    "p2pro: the 256x384 YUYV frame (196608 bytes); mlx90640: a dump file "
                                    "(EEPROM + 1-2 subpage frames, see docs/THERMAL.md).")
    d.add_argument("--format", required=True, choices=FORMATS, help="the sensor's raw format")
    d.add_argument("file", help="raw frame file ('-' reads stdin)")
    d.add_argument("--roi", help="region x,y,w,h in the thermal frame's pixels")
    d.add_argument("--telemetry", choices=("footer", "header"), default="footer",
                   help="lepton-y16 160x122 only: where the telemetry rows are (default footer, PureThermal)")
    d.add_argument("--state", action="store_true", help="also print the sensor's own state (telemetry)")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(handler=_decode)

    c = tsub.add_parser("calibrate", help="fit the RGB→thermal homography from point pairs",
                        description="Fit the per-gate RGB→thermal homography from >= 4 point pairs (e.g. the "
                                    "corners of a heated target seen by both cameras) and report the "
                                    "reprojection error. With the target at two or more distances it also "
                                    "fits the parallax of the camera baseline. Paste the printed values "
                                    "into the gate's thermal section.")
    c.add_argument("--point", action="append", default=[], metavar="RX,RY,TX,TY[,D]",
                   help="one pair: RGB x,y then thermal x,y, optionally the target distance in m (repeatable)")
    c.add_argument("--pairs", help="CSV file with rows rgb_x,rgb_y,thermal_x,thermal_y[,distance_m] "
                                   "(header optional); pairs at two or more distances also fit the parallax")
    c.add_argument("--ransac", type=float, metavar="PX", help="reject pairs farther than PX thermal pixels")
    c.add_argument("--max-error", type=float, default=1.5, metavar="PX",
                   help="fail if the RMS reprojection error exceeds this (default 1.5 thermal px)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(handler=_calibrate)

    o = tsub.add_parser("offset", help="compute the offset calibration from reference readings",
                        description="Compare gate readings with a reference thermometer taken at the same "
                                    "time and print offset_c (mean of reference − gate) for thermal.offset_c.")
    o.add_argument("--pair", action="append", default=[], metavar="GATE,REFERENCE",
                   help="one reading pair in °C (repeatable)")
    o.add_argument("--readings", help="CSV file with rows gate_c,reference_c (header optional)")
    o.add_argument("--current-offset", type=float, default=0.0,
                   help="offset_c already applied to the gate readings (default 0)")
    o.add_argument("--json", action="store_true", help="machine-readable output")
    o.set_defaults(handler=_offset)

    pr = tsub.add_parser("profiles", help="list the validated sensor profiles (firmware_configs/thermal)")
    pr.add_argument("--json", action="store_true", help="machine-readable output")
    pr.set_defaults(handler=_profiles)

    s = tsub.add_parser("simulate", help="write one simulated raw frame in a sensor's format",
                        description="Render a face at a known core temperature and write the raw bytes the "
                                    "sensor would deliver (mlx90640: a dump file) — handy for trying decode.")
    s.add_argument("--format", required=True, choices=FORMATS)
    s.add_argument("--out", required=True, help="output file")
    s.add_argument("--core", type=float, default=36.8, help="core temperature of the face, °C")
    s.add_argument("--distance", type=float, default=1.0, help="face distance, m")
    s.add_argument("--ambient", type=float, default=22.0, help="room temperature, °C")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--spoof", choices=("printed_photo", "phone_screen", "tablet_warm"),
                   help="render a presentation attack at the face's place instead of the face")
    s.add_argument("--mask", action="store_true", help="the face wears a cloth mask (cooler lower face)")
    s.set_defaults(handler=_simulate)

    lv = tsub.add_parser("liveness", help="is the face in one raw frame a living face?",
                         description="Liveness of one face on one raw thermal frame: warmer than the room, a "
                                     "hot inner canthus in the eye band, not a flat uniform surface "
                                     "(docs/FACE.md, \"Liveness\"). Prints live true/false/null (null: "
                                     "cannot be judged), a score in [0, 1] and reason codes.")
    lv.add_argument("--format", required=True, choices=FORMATS, help="the sensor's raw format")
    lv.add_argument("file", help="raw frame file ('-' reads stdin)")
    lv.add_argument("--face", required=True, metavar="X,Y,W,H",
                    help="the face box in the THERMAL frame's pixels (not the RGB camera's)")
    lv.add_argument("--ambient", type=float, metavar="C",
                    help="room temperature, °C (default: the frame's background)")
    lv.add_argument("--telemetry", choices=("footer", "header"), default="footer",
                    help="lepton-y16 160x122 only: where the telemetry rows are")
    lv.add_argument("--json", action="store_true", help='print {"live", "score", "reasons"}')
    lv.set_defaults(handler=_liveness)


# ------------------------------------------------------------------ helpers
def _read_input(path: str) -> bytes:
    from edge.thermal.errors import ThermalError

    if path == "-":
        return sys.stdin.buffer.read()
    p = Path(path)
    if not p.is_file():
        raise ThermalError(f"no such file: {path}", code="thermal_file_not_found")
    return p.read_bytes()


def _csv_rows(path: str, width: int | None) -> list[list[float]]:
    from edge.thermal.errors import ThermalError

    p = Path(path)
    if not p.is_file():
        raise ThermalError(f"no such file: {path}", code="thermal_file_not_found")
    rows = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            vals = [float(c) for c in cells]
        except ValueError:
            if n == 1 or not rows:  # a header line
                continue
            raise ThermalError(f"{path}:{n}: expected {width} numbers, got {line!r}", code="thermal_bad_input") from None
        if width is not None and len(vals) != width:
            raise ThermalError(f"{path}:{n}: expected {width} numbers, got {len(vals)}", code="thermal_bad_input")
        rows.append(vals)
    return rows


def _numbers(text: str, width: int, what: str) -> list[float]:
    from edge.thermal.errors import ThermalError

    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != width:
        raise ThermalError(f"{what} must be {width} comma-separated numbers, got {text!r}", code="thermal_bad_input")
    return vals


def _stats(a) -> dict:
    return {"min_c": round(float(a.min()), 3), "max_c": round(float(a.max()), 3), "mean_c": round(float(a.mean()), 3)}


# ------------------------------------------------------------------ handlers
def _decode_file(args):
    from edge.thermal import decoders, mlx90640

    raw = _read_input(args.file)
    if args.format == "lepton-y16":
        return decoders.decode_lepton_y16(raw, telemetry=args.telemetry)
    if args.format == "p2pro":
        return decoders.decode_p2pro(raw)
    return mlx90640.decode_dump(raw)


def _decode(args) -> int:
    from edge.thermal.errors import ThermalError

    frame = _decode_file(args)
    out: dict = {"format": args.format, "width": frame.width, "height": frame.height, **_stats(frame.celsius)}
    if args.roi:
        x, y, w, h = (int(v) for v in _numbers(args.roi, 4, "--roi"))
        if w < 1 or h < 1 or x < 0 or y < 0 or x + w > frame.width or y + h > frame.height:
            raise ThermalError(f"--roi {x},{y},{w},{h} is not inside the {frame.width}x{frame.height} frame",
                               code="thermal_bad_roi")
        out["roi"] = _stats(frame.celsius[y:y + h, x:x + w])
    if args.state:
        st = frame.state
        out["state"] = {"usable": frame.usable, "flags": list(frame.flags), "fpa_c": st.fpa_c,
                        "housing_c": st.housing_c, "ffc_state": st.ffc_state.value,
                        "ms_since_ffc": st.ms_since_ffc, "frame_counter": st.frame_counter, "vdd": st.vdd}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['format']} {out['width']}x{out['height']}: min {out['min_c']:.2f} °C, "
              f"max {out['max_c']:.2f} °C, mean {out['mean_c']:.2f} °C")
        if "roi" in out:
            r = out["roi"]
            print(f"roi {args.roi}: min {r['min_c']:.2f} °C, max {r['max_c']:.2f} °C, mean {r['mean_c']:.2f} °C")
        if "state" in out:
            print("state: " + ", ".join(f"{k}={v}" for k, v in out["state"].items()))
    return 0


def _calibrate(args) -> int:
    from edge.thermal.errors import ThermalError
    from edge.thermal.registration import fit_registration

    rows = [_numbers(p, 5 if p.count(",") == 4 else 4, "--point") for p in args.point]
    if args.pairs:
        rows += _csv_rows(args.pairs, None)
    if not rows:
        raise ThermalError("calibrate: give point pairs with --point or --pairs", code="thermal_bad_points")
    widths = {len(r) for r in rows}
    if widths not in ({4}, {5}):
        raise ThermalError("calibrate: give every pair a distance or none", code="thermal_bad_points")
    import numpy as np

    a = np.asarray(rows)
    dist = a[:, 4] if a.shape[1] == 5 else None
    fit = fit_registration(a[:, :2], a[:, 2:4], dist, ransac_px=args.ransac)
    out = {**fit.as_config(), "rms_error_px": round(fit.rms_px, 4), "max_error_px": round(fit.max_px, 4),
           "pairs": len(a), "inliers": int(fit.inliers.sum()),
           "errors_px": [round(float(e), 4) for e in fit.errors_px]}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{len(a)} pairs, {out['inliers']} used: RMS reprojection error {fit.rms_px:.3f} px, max {fit.max_px:.3f} px")
        print("thermal:\n  homography:")
        for row in out["homography"]:
            print(f"    - [{', '.join(repr(v) for v in row)}]")
        print(f"  calibration_distance_m: {out['calibration_distance_m']}")
        print(f"  parallax_px_m: {out['parallax_px_m']}")
    if fit.rms_px > args.max_error:
        raise ThermalError(f"calibrate: RMS reprojection error {fit.rms_px:.2f} px exceeds --max-error "
                           f"{args.max_error} px; check the point pairs", code="thermal_poor_calibration")
    return 0


def _offset(args) -> int:
    from edge.thermal.errors import ThermalError

    rows = [_numbers(p, 2, "--pair") for p in args.pair]
    if args.readings:
        rows += _csv_rows(args.readings, 2)
    if len(rows) < 3:
        raise ThermalError(f"offset: need at least 3 reading pairs, got {len(rows)}", code="thermal_bad_input")
    import numpy as np

    a = np.asarray(rows)
    if not np.all((a > 30) & (a < 45)):
        raise ThermalError("offset: readings must be body temperatures in °C (30..45)", code="thermal_bad_input")
    diff = a[:, 1] - a[:, 0]
    mean = float(diff.mean())
    sd = float(diff.std(ddof=1))
    new = args.current_offset + mean
    out = {"offset_c": round(new, 3), "mean_difference_c": round(mean, 3), "sd_c": round(sd, 3),
           "n": len(a), "standard_error_c": round(sd / np.sqrt(len(a)), 3)}
    if abs(new) > 3:
        raise ThermalError(f"offset: {new:+.2f} °C is beyond ±3 °C — the sensor or the reference is wrong, "
                           "not something an offset should hide", code="thermal_offset_out_of_range")
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{len(a)} pairs: gate reads {-mean:+.2f} °C vs reference (sd {sd:.2f}, s.e. {out['standard_error_c']:.2f})")
        print(f"thermal:\n  offset_c: {out['offset_c']}")
    return 0


def _profiles(args) -> int:
    from edge.thermal.config import list_profiles

    profs = list_profiles()
    if args.json:
        print(json.dumps([p.model_dump(mode="json") for p in profs]))
    else:
        for p in profs:
            w, h = p.resolution
            print(f"{p.name:24} {p.format:11} {w}x{h} {p.frame_rate_hz:g} Hz FOV {p.hfov_deg:g}x{p.vfov_deg:g}° "
                  f"accuracy ±{p.accuracy_c:g} °C emissivity {p.emissivity:g}")
    return 0


def _simulate(args) -> int:
    from edge.thermal.config import list_profiles
    from edge.thermal.sim import Scene, SceneEncoder, SimFace, spoof_for_face

    prof = next(p for p in list_profiles() if p.format == args.format)
    enc = SceneEncoder(prof, seed=args.seed)
    face = SimFace(distance_m=args.distance, core_c=args.core, mask=args.mask)
    scene = Scene(ambient_c=args.ambient, faces=(face,))
    if args.spoof:
        scene = Scene(ambient_c=args.ambient, spoofs=(spoof_for_face(args.spoof, face),))
    raw = enc.encode(scene)[0]
    Path(args.out).write_bytes(raw)
    box, _ = enc.rig.observe_thermal(face)
    print(f"wrote {len(raw)} bytes ({prof.name}) to {args.out}; face box in thermal pixels: "
          + ",".join(f"{v:.0f}" for v in box))
    return 0


def _liveness(args) -> int:
    from edge.thermal.errors import ThermalError
    from edge.thermal.liveness import assess

    x, y, w, h = _numbers(args.face, 4, "--face")
    frame = _decode_file(args)
    if w <= 0 or h <= 0 or x + w <= 0 or y + h <= 0 or x >= frame.width or y >= frame.height:
        raise ThermalError(f"--face {args.face} is not a box inside the {frame.width}x{frame.height} thermal frame "
                           "(x,y,w,h in thermal pixels)", code="thermal_bad_roi")
    res = assess(frame, (x, y, w, h), ambient_c=args.ambient)
    if args.json:
        print(json.dumps(res.as_json()))
    else:
        verdict = {True: "live", False: "NOT live", None: "unknown (not judged)"}[res.live]
        print(f"{verdict}: score {res.score:.2f}; reasons: {', '.join(res.reasons)}")
    return 0
