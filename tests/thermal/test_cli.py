"""`menwei thermal …` end to end through the real entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.thermal import decoders, mlx90640
from edge.thermal.registration import project_points
from menwei.cli import main


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_decode_lepton_json_with_roi(tmp_path, capsys):
    t = np.full((120, 160), 22.0)
    t[40:60, 70:90] = 35.5
    path = tmp_path / "frame.y16"
    path.write_bytes(decoders.encode_lepton_y16(t, telemetry="footer"))
    rc, out, _ = _run(capsys, "thermal", "decode", "--format", "lepton-y16", str(path), "--roi", "70,40,20,20", "--json")
    assert rc == 0
    d = json.loads(out)
    assert set(d) == {"format", "width", "height", "min_c", "max_c", "mean_c", "roi"}
    assert (d["format"], d["width"], d["height"]) == ("lepton-y16", 160, 120)
    assert d["max_c"] == pytest.approx(35.5, abs=0.01) and d["min_c"] == pytest.approx(22.0, abs=0.01)
    assert d["roi"] == {"min_c": pytest.approx(35.5, abs=0.01), "max_c": pytest.approx(35.5, abs=0.01),
                        "mean_c": pytest.approx(35.5, abs=0.01)}
    rc, out, _ = _run(capsys, "thermal", "decode", "--format", "lepton-y16", str(path), "--json")
    assert "roi" not in json.loads(out)


def test_decode_p2pro_and_mlx_dump(tmp_path, capsys, mlx_example):
    t = np.linspace(20, 36, 192 * 256).reshape(192, 256)
    p = tmp_path / "p2.raw"
    p.write_bytes(decoders.encode_p2pro(t))
    rc, out, _ = _run(capsys, "thermal", "decode", "--format", "p2pro", str(p), "--json")
    d = json.loads(out)
    assert rc == 0 and (d["width"], d["height"]) == (256, 192)
    assert d["mean_c"] == pytest.approx(28.0, abs=0.01)
    ee, f0, f1, expected = mlx_example
    m = tmp_path / "mlx.dump"
    m.write_bytes(mlx90640.write_dump(ee, [f0, f1]))
    rc, out, _ = _run(capsys, "thermal", "decode", "--format", "mlx90640", str(m), "--roi", "0,0,32,24", "--json")
    d = json.loads(out)
    assert rc == 0 and (d["width"], d["height"]) == (32, 24)
    assert d["max_c"] == pytest.approx(expected.max(), abs=1e-3)
    assert d["roi"]["mean_c"] == pytest.approx(expected.mean(), abs=1e-3)


@pytest.mark.parametrize("fmt,size,needle", [
    ("lepton-y16", 160 * 100 * 2, "truncated"),
    ("p2pro", 1000, "expected 196608"),
    ("mlx90640", 100, "MLXD"),
])
def test_decode_bad_input_is_one_line_exit_2(tmp_path, capsys, fmt, size, needle):
    p = tmp_path / "bad.raw"
    p.write_bytes(b"\x01" * size)
    rc, out, err = _run(capsys, "thermal", "decode", "--format", fmt, str(p))
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("menwei: error:") and needle in err


def test_decode_roi_outside_frame_and_missing_file(tmp_path, capsys):
    p = tmp_path / "f.y16"
    p.write_bytes(decoders.encode_lepton_y16(np.full((120, 160), 25.0), telemetry=None))
    rc, _, err = _run(capsys, "thermal", "decode", "--format", "lepton-y16", str(p), "--roi", "150,0,20,5")
    assert rc == 2 and "not inside" in err
    rc, _, err = _run(capsys, "thermal", "decode", "--format", "lepton-y16", str(tmp_path / "nope"))
    assert rc == 2 and "no such file" in err


def test_calibrate_reports_homography_and_error(tmp_path, capsys):
    H = np.array([[0.125, 0.002, 3.0], [-0.002, 0.124, -2.0], [0.0, 0.0, 1.0]])
    rgb = np.array([[200, 150], [1080, 150], [1080, 570], [200, 570], [640, 360], [400, 300]], float)
    th = project_points(H, rgb)
    csv = tmp_path / "pairs.csv"
    csv.write_text("rgb_x,rgb_y,thermal_x,thermal_y\n" + "\n".join(",".join(f"{v:.4f}" for v in (*r, *t))
                                                                      for r, t in zip(rgb, th, strict=True)))
    rc, out, _ = _run(capsys, "thermal", "calibrate", "--pairs", str(csv), "--json")
    d = json.loads(out)
    assert rc == 0 and d["pairs"] == 6 and d["rms_error_px"] < 0.01
    np.testing.assert_allclose(np.array(d["homography"]), H, atol=1e-4)
    rc, _, err = _run(capsys, "thermal", "calibrate", "--point", "1,2,3,4")
    assert rc == 2 and "at least 4" in err


def test_calibrate_with_distances_fits_parallax(tmp_path, capsys):
    from edge.thermal.config import load_profile, parse_thermal_config
    from edge.thermal.sim import SimRig

    rig = SimRig(load_profile("lepton35-purethermal"))
    lines = []
    for d in (0.6, 1.2):
        rgb, th = rig.target_corners(distance_m=d)
        lines += [f"{r[0]:.3f},{r[1]:.3f},{t[0]:.4f},{t[1]:.4f},{d}" for r, t in zip(rgb, th, strict=True)]
    csv = tmp_path / "pairs.csv"
    csv.write_text("\n".join(lines))
    rc, out, _ = _run(capsys, "thermal", "calibrate", "--pairs", str(csv), "--json")
    d = json.loads(out)
    assert rc == 0 and d["rms_error_px"] < 0.05 and abs(d["parallax_px_m"][0]) > 1.0
    # the printed values are a valid gate config section as they are
    cfg = parse_thermal_config({k: d[k] for k in ("homography", "calibration_distance_m", "parallax_px_m")})
    assert cfg.calibration_distance_m == pytest.approx(0.9)


def test_offset_from_reference_readings(capsys):
    pairs = [("36.4", "36.9"), ("36.7", "37.1"), ("37.9", "38.5"), ("36.2", "36.8")]
    argv = ["thermal", "offset", "--json"] + [a for g, r in pairs for a in ("--pair", f"{g},{r}")]
    rc, out, _ = _run(capsys, *argv)
    d = json.loads(out)
    assert rc == 0 and d["n"] == 4 and d["offset_c"] == pytest.approx(0.525, abs=1e-3)
    rc, _, err = _run(capsys, "thermal", "offset", "--pair", "36,37")
    assert rc == 2 and "at least 3" in err


def test_profiles_and_simulate_round_trip(tmp_path, capsys):
    rc, out, _ = _run(capsys, "thermal", "profiles", "--json")
    assert rc == 0 and {p["format"] for p in json.loads(out)} == {"lepton-y16", "p2pro", "mlx90640"}
    for fmt in ("lepton-y16", "p2pro", "mlx90640"):
        path = tmp_path / f"{fmt}.raw"
        assert _run(capsys, "thermal", "simulate", "--format", fmt, "--out", str(path), "--distance", "0.6")[0] == 0
        rc, out, _ = _run(capsys, "thermal", "decode", "--format", fmt, str(path), "--json")
        d = json.loads(out)
        assert rc == 0 and 33 < d["max_c"] < 37.5 and 21 < d["min_c"] < 23
