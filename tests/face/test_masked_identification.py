"""Masked residents named and masked strangers refused, on masks painted onto the
identification tests' photos (edge/face/masked_probes.py). Identities come from the labelled,
hand-checked boxes of tests/data/faces/face_boxes.json (checked by eye), not from the engine."""

from __future__ import annotations

import pytest

from edge.face.mask_paint import TEXTURES
from edge.face.masked_probes import detected_faces, enrol_folder, labelled_faces, probe_face, textures

RESIDENTS = ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]


@pytest.fixture(scope="module")
def probes(engine, faces_dir):
    faces = labelled_faces(faces_dir, RESIDENTS)
    faces += detected_faces(engine, [faces_dir / "insightface/Tom_Hanks_54745.png"])  # a stranger
    assert sum(f.identity is not None for f in faces) == 9 and sum(f.identity is None for f in faces) == 8
    return faces


@pytest.fixture(scope="module")
def results(engine, knn_gallery, probes, faces_dir):
    """(texture or None, labelled face, best match, accepted) for every embedded probe."""
    out = []
    for colour, tex in [(None, None), *textures(faces_dir, TEXTURES).items()]:
        for lf in probes:
            face = probe_face(engine, lf, tex)
            if face.embedding is not None:
                best = knn_gallery.search(face.embedding[None])[0][0]
                out.append((colour, lf, best, engine.accepts(best)))
    return out


def test_masked_residents_are_named_with_the_mask_flag(results):
    masked = [(lf, best, ok) for colour, lf, best, ok in results if colour and lf.identity]
    assert len(masked) == 9 * len(TEXTURES)
    named = [lf for lf, best, ok in masked if ok and best.identity == lf.identity]
    assert len(named) >= 0.9 * len(masked)  # the target: rank-1 >= 90 %
    assert not [lf for lf, best, ok in masked if ok and best.identity != lf.identity]  # never the wrong name
    assert all(best.masked for lf, best, ok in masked if ok)


def test_plain_residents_are_still_named_without_the_mask_flag(results):
    plain = [(lf, best, ok) for colour, lf, best, ok in results if colour is None and lf.identity]
    assert len(plain) == 9
    assert all(ok and best.identity == lf.identity and best.masked is False for lf, best, ok in plain)


def test_plain_strangers_are_refused(results):
    plain = [ok for colour, lf, best, ok in results if colour is None and lf.identity is None]
    assert plain and not any(plain)


def test_the_gallery_girl_and_tom_hanks_are_refused_with_any_mask(results):
    """The tests' two named unknowns (the girl of obama_and_biden.jpg and the aligned crop)."""
    ours = [(lf.photo.name, ok) for colour, lf, best, ok in results if colour and lf.identity is None
            and lf.photo.name in ("obama_and_biden.jpg", "Tom_Hanks_54745.png")]
    assert len(ours) == 2 * len(TEXTURES) and not any(ok for _, ok in ours)


@pytest.mark.xfail(strict=True, reason="measured 86 % (bench/masked_bench.py): short of the issue's 90 % "
                   "target; the threshold is not loosened on test photos (docs/FACE.md, Masks)")
def test_masked_strangers_are_refused_at_the_target_rate(results):
    refused = [not ok for colour, lf, best, ok in results if colour and lf.identity is None]
    assert len(refused) >= 28 and sum(refused) >= 0.9 * len(refused)


def test_masked_templates_are_what_names_masked_residents(engine, faces_dir, probes, results):
    plain_only = enrol_folder(engine, faces_dir / "knn_examples/train", ())
    masked = [(colour, lf) for colour, lf, best, ok in results if colour and lf.identity]
    tex = textures(faces_dir, TEXTURES)
    named = 0
    for colour, lf in masked:
        best = plain_only.search(probe_face(engine, lf, tex[colour]).embedding[None])[0][0]
        named += engine.accepts(best) and best.identity == lf.identity
    with_templates = sum(ok and best.identity == lf.identity for colour, lf, best, ok in results
                         if colour and lf.identity)
    assert named < 0.5 * len(masked) < with_templates
