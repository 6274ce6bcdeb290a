"""`menwei thermal liveness` (and `simulate --spoof/--mask`) end to end through the real entry point."""

from __future__ import annotations

import json

import pytest

from edge.thermal.config import load_profile
from edge.thermal.sim import SPOOF_KINDS, Scene, SceneEncoder, SimFace, spoof_for_face
from menwei.cli import main

PROFILES = {"lepton-y16": "lepton35-purethermal", "p2pro": "p2pro", "mlx90640": "mlx90640"}
# a face the sensor resolves into >= 12 columns (the MLX90640 only at arm's length)
DISTANCE = {"lepton-y16": 0.8, "p2pro": 1.0, "mlx90640": 0.3}


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _write(tmp_path, fmt: str, spoof: str | None = None, mask: bool = False, ambient: float = 22.0):
    enc = SceneEncoder(load_profile(PROFILES[fmt]), seed=5)
    face = SimFace(distance_m=DISTANCE[fmt], mask=mask)
    scene = Scene(ambient_c=ambient, faces=(face,)) if spoof is None else \
        Scene(ambient_c=ambient, spoofs=(spoof_for_face(spoof, face),))
    path = tmp_path / f"{fmt}-{spoof or 'live'}.raw"
    path.write_bytes(enc.encode(scene)[0])
    box, _ = enc.rig.observe_thermal(face)
    return path, ",".join(f"{v:.1f}" for v in box)


@pytest.mark.parametrize("fmt", PROFILES)
def test_live_and_spoofed_frames_json(fmt, tmp_path, capsys):
    for spoof in (None, *SPOOF_KINDS):
        path, face = _write(tmp_path, fmt, spoof)
        rc, out, err = _run(capsys, "thermal", "liveness", "--format", fmt, path, "--face", face, "--ambient", 22, "--json")
        assert rc == 0, err
        d = json.loads(out)
        assert set(d) == {"live", "score", "reasons"}
        assert d["live"] is (spoof is None), (fmt, spoof, d)  # the rendered truth
        assert (d["score"] >= 0.5) is (spoof is None)
        assert all(isinstance(r, str) for r in d["reasons"])


def test_masked_face_is_live_and_ambient_defaults_to_the_background(tmp_path, capsys):
    path, face = _write(tmp_path, "lepton-y16", mask=True, ambient=28.0)
    rc, out, _ = _run(capsys, "thermal", "liveness", "--format", "lepton-y16", path, "--face", face, "--json")
    assert rc == 0 and json.loads(out)["live"] is True


def test_unknown_is_null(tmp_path, capsys):
    path, _ = _write(tmp_path, "lepton-y16")
    rc, out, _ = _run(capsys, "thermal", "liveness", "--format", "lepton-y16", path, "--face", "70,50,2,2", "--json")
    d = json.loads(out)
    assert rc == 0 and d["live"] is None and d["reasons"] == ["face_too_small"]


def test_human_output(tmp_path, capsys):
    path, face = _write(tmp_path, "p2pro", "phone_screen")
    rc, out, _ = _run(capsys, "thermal", "liveness", "--format", "p2pro", path, "--face", face)
    assert rc == 0
    assert out.startswith("NOT live: score ") and "flat_uniform" in out and "no_canthus_hotspot" in out
    path, face = _write(tmp_path, "p2pro")
    rc, out, _ = _run(capsys, "thermal", "liveness", "--format", "p2pro", path, "--face", face)
    assert out.startswith("live: score ") and "canthus_hotspot" in out


def test_simulate_spoof_then_liveness(tmp_path, capsys):
    out_file = tmp_path / "photo.y16"
    rc, out, _ = _run(capsys, "thermal", "simulate", "--format", "lepton-y16", "--out", out_file, "--distance", 0.8,
                      "--spoof", "printed_photo")
    assert rc == 0
    face = out.strip().rsplit(" ", 1)[-1]  # the face box the command prints, thermal pixels
    rc, out, _ = _run(capsys, "thermal", "liveness", "--format", "lepton-y16", out_file, "--face", face, "--json")
    d = json.loads(out)
    assert rc == 0 and d["live"] is False and "not_warmer_than_ambient" in d["reasons"]


def test_help_says_the_box_is_in_thermal_pixels(capsys):
    with pytest.raises(SystemExit):
        main(["thermal", "liveness", "--help"])
    assert "THERMAL frame's pixels" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["missing", "garbage", "three_numbers", "words", "zero_width", "outside", "no_face"])
def test_bad_input_is_one_line_exit_2(case, tmp_path, capsys):
    path, face = _write(tmp_path, "lepton-y16")
    args = ["thermal", "liveness", "--format", "lepton-y16", str(path), "--face", face]
    if case == "missing":
        args[4] = str(tmp_path / "nope.y16")
    elif case == "garbage":
        bad = tmp_path / "bad.y16"
        bad.write_bytes(b"\x00\x01" * 777)
        args[4] = str(bad)
    elif case == "three_numbers":
        args[-1] = "1,2,3"
    elif case == "words":
        args[-1] = "a,b,c,d"
    elif case == "zero_width":
        args[-1] = "10,10,0,12"
    elif case == "outside":
        args[-1] = "400,10,20,20"
    if case == "no_face":
        args = args[:-2]
        with pytest.raises(SystemExit) as exc:  # argparse: a required option missing
            main(args)
        assert exc.value.code == 2
        return
    rc = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("menwei: error:") and "Traceback" not in err[0]
