"""The `menwei face` JSON contract, run as users run it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def menwei(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "menwei", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, faces_dir):
    d = tmp_path_factory.mktemp("bad")
    (d / "corrupt.jpg").write_bytes((faces_dir / "misc/obama-480p.jpg").read_bytes()[:300])
    (d / "text.png").write_text("hello")
    return d


def test_embed_contract(faces_dir, bad_files):
    two = faces_dir / "misc/two_people.jpg"
    out = menwei("face", "embed", str(two), str(bad_files / "corrupt.jpg"), "--with-embedding", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"pack", "results"} and doc["pack"] == "dlib-resnet"
    good, bad = doc["results"]
    assert good["image"] == str(two) and good["error"] is None and len(good["faces"]) == 2
    areas = [f["bbox"][2] * f["bbox"][3] for f in good["faces"]]
    assert areas == sorted(areas, reverse=True)
    for f in good["faces"]:
        assert {"bbox", "landmarks", "quality", "score", "embedding"} <= set(f)
        assert len(f["landmarks"]) == 5 and len(f["embedding"]) == 128
    assert bad["faces"] == [] and bad["error"]["code"] == "unreadable_image"


def test_embed_without_flag_has_no_embedding(faces_dir):
    doc = json.loads(menwei("face", "embed", str(faces_dir / "misc/obama-240p.jpg"), "--json").stdout)
    assert "embedding" not in doc["results"][0]["faces"][0]


def test_match_contract(faces_dir, bad_files, tmp_path):
    probes = tmp_path / "probes"
    probes.mkdir()
    for name in ("obama_and_biden.jpg", "johnsnow_test1.jpg"):
        (probes / name).write_bytes((faces_dir / "knn_examples/test" / name).read_bytes())
    (probes / "sub").mkdir()
    (probes / "sub" / "corrupt.jpg").write_bytes((bad_files / "corrupt.jpg").read_bytes())
    out = menwei("face", "match", "--gallery", str(faces_dir / "knn_examples/train"), "--probe", str(probes),
                 "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"pack", "threshold", "results"} <= set(doc)
    by_probe = {r["probe"]: r for r in doc["results"]}
    assert len(by_probe) == 3  # searched recursively
    ob = by_probe[str(probes / "obama_and_biden.jpg")]
    assert [f["identity"] for f in ob["faces"]] == ["obama", "biden", None]
    assert all({"bbox", "identity", "score"} <= set(f) for f in ob["faces"])
    assert by_probe[str(probes / "sub" / "corrupt.jpg")]["error"]["code"] == "unreadable_image"


def test_match_with_an_enrolment_photo_of_two_faces(faces_dir, tmp_path):
    gallery = tmp_path / "g"
    (gallery / "pair").mkdir(parents=True)
    (gallery / "pair" / "two.jpg").write_bytes((faces_dir / "misc/two_people.jpg").read_bytes())
    out = menwei("face", "match", "--gallery", str(gallery), "--probe", str(faces_dir / "misc/obama-240p.jpg"),
                 "--json")
    doc = json.loads(out.stdout)
    assert doc["gallery"]["errors"][0]["error"]["code"] == "multiple_faces"
    assert doc["results"][0]["error"]["code"] == "empty_gallery"
    assert "several" in out.stderr or "exactly one" in out.stderr


def test_threshold_override_is_reported_and_applied(faces_dir):
    out = menwei("face", "match", "--gallery", str(faces_dir / "knn_examples/train"),
                 "--probe", str(faces_dir / "knn_examples/test/obama1.jpg"), "--threshold", "0.999", "--json")
    doc = json.loads(out.stdout)
    assert doc["threshold"] == 0.999 and doc["results"][0]["faces"][0]["identity"] is None


def test_unknown_pack_is_one_line_error(faces_dir):
    out = menwei("face", "embed", str(faces_dir / "misc/obama-240p.jpg"), "--pack", "nope", "--json")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "unknown model pack 'nope'" in out.stderr
    assert "Traceback" not in out.stderr


def test_help_explains_itself():
    out = menwei("face", "match", "--help")
    assert out.returncode == 0 and "sub-folder per identity" in out.stdout
