"""Identification on real photographs with the default pack (the face-engine issue's acceptance)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.face import errors
from edge.face.errors import FaceError
from edge.face.image_io import load_image

# probe → identities of its faces, largest face first (None: a stranger who must stay unknown)
EXPECTED = {
    "alex_lacamoire1.jpg": ["alex_lacamoire"],
    "johnsnow_test1.jpg": ["kit_harington"],
    "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
    "obama1.jpg": ["obama"],
    "obama_and_biden.jpg": ["obama", "biden", None],  # the girl at the lower right is in no gallery
}


def test_gallery_holds_every_enrolment_photo(knn_gallery):
    assert knn_gallery.identities == ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]
    # one plain row per photo, and its masked templates (edge/face/masked.py) beside it
    assert knn_gallery.row_masked.count(False) == 9
    assert knn_gallery.matrix.flags["C_CONTIGUOUS"] and knn_gallery.matrix.dtype == np.float32


@pytest.mark.parametrize("probe", sorted(EXPECTED))
def test_every_probe_face_gets_the_right_identity(engine, knn_gallery, faces_dir, probe):
    result = engine.identify(load_image(faces_dir / "knn_examples" / "test" / probe), knn_gallery)
    got = [r.match.identity if r.match else None for r in result]
    assert got == EXPECTED[probe]


def test_the_girl_is_embedded_and_scores_below_threshold(engine, knn_gallery, faces_dir):
    """Unknown must come from the score, not from a face the engine refused to look at."""
    result = engine.identify(load_image(faces_dir / "knn_examples/test/obama_and_biden.jpg"), knn_gallery)
    girl = result[-1]
    assert girl.face.embedding is not None and girl.face.quality.ok
    assert girl.best.score < engine.threshold


@pytest.mark.parametrize("height", [832, 720, 480, 240, 160])
def test_obama_at_every_resolution(engine, knn_gallery, faces_dir, height):
    """A probe photo that is in no gallery (misc/obama-*p.jpg are rescaled copies of the enrolment
    photo train/obama/obama.jpg, so they would test the gallery against itself), shrunk from its
    832 px height: his face goes from about 390 down to about 60 px."""
    photo = load_image(faces_dir / "knn_examples/test/obama1.jpg")
    assert photo.shape[0] == 832
    scale = height / photo.shape[0]
    probe = photo if height == 832 else cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    result = engine.identify(probe, knn_gallery)
    assert [r.match.identity if r.match else None for r in result] == ["obama"]


def test_embeddings_are_unit_float32(engine, faces_dir):
    face = engine.enrol(load_image(faces_dir / "misc/obama-480p.jpg"))
    assert face.embedding.dtype == np.float32 and face.embedding.shape == (engine.dim,)
    assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 1e-5


def test_enrolment_refuses_two_faces(engine, faces_dir):
    with pytest.raises(FaceError) as exc:
        engine.enrol(load_image(faces_dir / "misc/two_people.jpg"))
    assert exc.value.code == errors.MULTIPLE_FACES


def test_enrolment_refuses_no_face(engine):
    blank = np.full((480, 640, 3), 127, np.uint8)
    with pytest.raises(FaceError) as exc:
        engine.enrol(blank)
    assert exc.value.code == errors.NO_FACE


def test_enrolment_refuses_a_blurred_face(engine, faces_dir):
    img = cv2.GaussianBlur(load_image(faces_dir / "misc/obama-720p.jpg"), (31, 31), 0)
    with pytest.raises(FaceError) as exc:
        engine.enrol(img)
    assert exc.value.code == errors.FACE_BLURRED


def test_enrolment_refuses_a_face_too_small(faces_dir):
    from edge.face.engine import FaceEngine

    ranged = FaceEngine.load(upsample=2)  # finds the face, quality must still refuse it
    small = cv2.resize(load_image(faces_dir / "misc/obama-240p.jpg"), None, fx=0.45, fy=0.45,
                       interpolation=cv2.INTER_AREA)
    with pytest.raises(FaceError) as exc:
        ranged.enrol(small)
    assert exc.value.code == errors.FACE_TOO_SMALL


def test_aligned_crop_is_detected_and_not_confused_with_residents(engine, knn_gallery, faces_dir):
    result = engine.identify(load_image(faces_dir / "insightface/Tom_Hanks_54745.png"), knn_gallery)
    assert len(result) == 1 and result[0].match is None
