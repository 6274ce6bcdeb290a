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
