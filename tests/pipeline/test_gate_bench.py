"""`menwei bench gate` runs from a fresh clone and reports what the issue asks for (figures are
never asserted: a loaded CI machine would make them flaky; only their presence and coherence)."""

from __future__ import annotations

import json

from edge.capture.synthetic import named_scene
from menwei.cli import main


def test_bench_gate_quick_json(faces_dir, capsys):
    assert main(["bench", "gate", "--quick", "--json", "--scene", "walkup", "--faces", str(faces_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["machine"]["cores"] >= 1 and report["scene"] == "walkup"
    (run,) = report["runs"]
    assert (run["resolution"], run["precision"]) == ("640x360", "fp32")
    walkers = named_scene("walkup", faces_dir).walkers
    assert run["people"] == len({w.label for w in walkers})
    # everyone in this scene walks up to the gate and is enrolled: one right decision each
    assert run["decisions"] == run["correct"] == run["people"] and run["undecided"] == run["decided_twice"] == []
    assert {"detect", "track", "quality", "embed", "match", "decide", "thermal"} <= set(run["stages"])
    assert run["fps"] > 0 and run["peak_rss_mb"] >= run["rss_before_replay_mb"] > 50
    # walking up to the gate, everyone is decided on evidence, none by a timeout or a lost track
    assert run["triggers"] == {"evidence": run["people"]}
    for key in ("latency_ms_from_first_good_frame", "camera_wait_ms_from_first_good_frame",
                "latency_ms_evidence_decisions"):
        assert run[key]["p50"] <= run[key]["p95"]


def test_bench_gate_without_photos_is_one_line(tmp_path, capsys):
    assert main(["bench", "gate", "--quick", "--faces", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "photographs not found" in err[0]


def test_bench_gate_without_thermal_separates_the_pipelines_latency(faces_dir, capsys):
    """`--thermal none`: no temperature stage at all, so what is left is the pipeline's own wait;
    the scene's camera time to each decision is then shorter than with the 8.7 Hz Lepton, whose
    3 readings must come from distinct sensor frames (a new one every 3-4 camera frames)."""
    args = ["bench", "gate", "--quick", "--json", "--scene", "walkup", "--faces", str(faces_dir)]
    assert main([*args, "--thermal", "none"]) == 0
    bare = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    lepton = json.loads(capsys.readouterr().out)
    (run,), (with_sensor,) = bare["runs"], lepton["runs"]
    assert (bare["thermal"], run["thermal"], with_sensor["thermal"]) == ("none", "none", "lepton35-purethermal")
    assert not {"thermal", "thermal_sensor"} & set(run["stages"])
    assert run["decisions"] == run["correct"] == run["people"]
    assert run["camera_wait_ms_from_first_good_frame"]["p50"] < with_sensor["camera_wait_ms_from_first_good_frame"]["p50"]


def test_bench_gate_unknown_thermal_profile_is_one_line(faces_dir, capsys):
    assert main(["bench", "gate", "--quick", "--thermal", "lepton9", "--faces", str(faces_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "thermal profile 'lepton9' not found" in err[0]
