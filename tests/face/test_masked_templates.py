"""Masked templates at enrolment and the gallery rows that carry them (edge/face/masked.py,
edge/face/gallery.py)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from edge.face.gallery import Gallery
from edge.face.image_io import load_image
from edge.face.masked import ENROL_TEXTURES, masked_embeddings

# enrolment photos per person in knn_examples/train (the folder's contents, counted by hand)
PHOTOS = {"alex_lacamoire": 1, "biden": 2, "kit_harington": 2, "obama": 2, "rose_leslie": 2}


def _unit(rows, d=8, seed=0):
    v = np.random.default_rng(seed).normal(size=(rows, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_every_enrolment_photo_gives_one_plain_and_one_masked_row_per_texture(knn_gallery):
    per_kind: dict[tuple[str, bool], int] = {}
    for ident, masked in zip(knn_gallery.row_ids, knn_gallery.row_masked, strict=True):
        per_kind[ident, masked] = per_kind.get((ident, masked), 0) + 1
    assert per_kind == {**{(p, False): n for p, n in PHOTOS.items()},
                        **{(p, True): n * len(ENROL_TEXTURES) for p, n in PHOTOS.items()}}
    assert len(ENROL_TEXTURES) >= 1


def test_masked_templates_are_the_face_painted_not_copies_of_the_plain_one(engine, faces_dir):
    image = load_image(faces_dir / "knn_examples/train/obama/obama.jpg")
    face = engine.enrol(image)
    masked = masked_embeddings(engine, image, face)
    assert masked.shape == (len(ENROL_TEXTURES), engine.dim) and masked.dtype == np.float32
    sims = masked @ face.embedding
    # the same person with the lower half hidden: still close, but not the plain chip again
    assert np.all(sims < 0.99) and np.all(sims > 0.8)
    assert np.allclose(np.linalg.norm(masked, axis=1), 1.0, atol=1e-5)


def test_search_reports_the_kind_of_the_best_row():
    v = _unit(3)
    g = Gallery("p", 8)
    g.add("a", v[0])
    g.add("a", v[1], masked=True)
    g.add("b", v[2])
    assert g.search(v[1], k=1)[0][0].identity == "a" and g.search(v[1], k=1)[0][0].masked is True
    assert g.search(v[0], k=1)[0][0].masked is False
    assert g.search(v[2], k=2)[0][0].masked is False


def test_file_round_trip_keeps_row_kinds(tmp_path):
    g = Gallery.from_arrays("dlib-resnet", ["a", "a", "b"], _unit(3), version=5, masked=[False, True, False])
    g.save(tmp_path / "g.npz")
    h = Gallery.load(tmp_path / "g.npz")
    assert h.row_ids == ["a", "a", "b"] and h.row_masked == [False, True, False]
    h.remove("a")
    assert h.row_masked == [False]


def test_a_plain_gallery_file_has_no_kind_array_and_an_old_file_loads_as_plain():
    plain = Gallery.from_arrays("p", ["a", "b"], _unit(2))
    with np.load(io.BytesIO(plain.to_bytes())) as z:
        assert sorted(z.files) == ["ids", "matrix", "meta"]  # as written before masked rows existed
    # a file as the previous release wrote it
    old = io.BytesIO()
    meta = {"format": "menwei.gallery/1", "pack": "p", "dim": 8, "version": 3, "attributes": {}}
    np.savez(old, matrix=_unit(2), ids=np.asarray(["a", "b"]),
             meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    g = Gallery.from_bytes(old.getvalue())
    assert g.row_masked == [False, False] and g.search(_unit(2)[1])[0][0].masked is False


def test_a_bad_kind_array_is_refused():
    g = Gallery.from_arrays("p", ["a"], _unit(1), masked=[True])
    buf = io.BytesIO()
    with np.load(io.BytesIO(g.to_bytes())) as z:
        np.savez(buf, matrix=z["matrix"], ids=z["ids"], meta=z["meta"], kind=np.asarray([7], np.uint8))
    with pytest.raises(ValueError, match="kind"):
        Gallery.from_bytes(buf.getvalue())


def test_the_masked_threshold_applies_to_masked_rows_only(engine):
    from edge.face.gallery import Match

    m = engine.manifest
    assert m.threshold_masked is not None and m.threshold_masked_source
    assert engine.threshold_of(Match("x", 0.0, masked=True)) == m.threshold_masked
    assert engine.threshold_of(Match("x", 0.0)) == m.threshold
    between = (m.threshold + m.threshold_masked) / 2  # masked threshold is the stricter one
    assert engine.accepts(Match("x", between)) and not engine.accepts(Match("x", between, masked=True))


def _menwei(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "menwei", *args], capture_output=True, text=True, timeout=300)


def test_cli_enroll_writes_masked_templates_and_match_names_a_masked_probe(engine, faces_dir, tmp_path):
    import shutil

    import cv2

    from edge.face.mask_paint import load_texture, paint_mask
    from edge.face.packs.base import Detection
    from edge.face.probes import hand_checked

    folder = tmp_path / "gallery"
    for person in ("obama", "biden"):
        shutil.copytree(faces_dir / "knn_examples/train" / person, folder / person)
    out = _menwei("face", "enroll", str(folder), "--out", str(tmp_path / "g.npz"), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (doc["identities"], doc["photos"], doc["masked_templates"]) == (2, 4, 4 * len(ENROL_TEXTURES))
    g = Gallery.load(tmp_path / "g.npz")
    assert g.row_masked.count(False) == 4 and g.row_masked.count(True) == 4 * len(ENROL_TEXTURES)
    plain = _menwei("face", "enroll", str(folder), "--out", str(tmp_path / "p.npz"), "--plain-only", "--json")
    assert json.loads(plain.stdout)["masked_templates"] == 0 and len(Gallery.load(tmp_path / "p.npz")) == 4

    # obama1.jpg (a test photo of obama, face_boxes.json) with a green mask, a texture the
    # templates were not painted with; found by the default detector, named, flagged masked
    photo = "knn_examples/test/obama1.jpg"
    image = load_image(faces_dir / photo)
    (box,) = hand_checked(faces_dir)[photo]
    lm = engine.runtime.landmarker.landmarks(image, Detection(box, 1.0))
    cv2.imwrite(str(tmp_path / "masked.png"), paint_mask(image, box, lm, load_texture(faces_dir / "insightface", "green")))
    out = _menwei("face", "match", "--gallery", str(folder), "--probe", str(tmp_path / "masked.png"), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["threshold_masked"] == engine.threshold_masked and doc["gallery"]["masked_templates"] == 8
    (face,) = doc["results"][0]["faces"]
    assert face["identity"] == "obama" and face["masked"] is True
