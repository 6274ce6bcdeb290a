from __future__ import annotations

import numpy as np
import pytest

from edge.face.errors import FaceError
from edge.face.gallery import Gallery


def _random_unit(n, d, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_finds_the_nearest_identity_once_with_several_rows():
    vecs = _random_unit(50, 16)
    g = Gallery("p", 16)
    for i, v in enumerate(vecs):
        g.add(f"id{i % 25}", v)  # two rows per identity
    matches = g.search(vecs[7] + 0.01, k=3)[0]
    assert matches[0].identity == "id7"
    assert len({m.identity for m in matches}) == 3
    assert matches[0].score >= matches[1].score >= matches[2].score


def test_version_changes_on_every_edit():
    g = Gallery("p", 4)
    v0 = g.version
    g.add("a", np.ones(4))
    g.add("b", -np.ones(4))
    assert g.version == v0 + 2
    assert g.remove("a") == 1 and g.version == v0 + 3
    assert g.remove("zzz") == 0 and g.version == v0 + 3


def test_round_trip_keeps_rows_ids_version_and_attributes(tmp_path):
    vecs = _random_unit(10, 8)
    g = Gallery.from_arrays("dlib-resnet", [f"r{i}" for i in range(10)], vecs, version=42,
                            attributes={"r1": {"status": "banned"}})
    path = tmp_path / "g.npz"
    g.save(path)
    h = Gallery.load(path)
    assert h.version == 42 and h.pack == "dlib-resnet" and h.row_ids == g.row_ids
    assert np.array_equal(h.matrix, g.matrix) and h.attributes == {"r1": {"status": "banned"}}


def test_empty_gallery_is_a_clear_error():
    with pytest.raises(FaceError) as exc:
        Gallery("p", 4).search(np.ones(4))
    assert exc.value.code == "empty_gallery"


def test_corrupt_gallery_file_is_refused():
    with pytest.raises(ValueError):
        Gallery.from_bytes(b"garbage")


def test_wrong_dimension_is_refused():
    with pytest.raises(ValueError):
        Gallery("p", 4).add("a", np.ones(5))


def test_an_empty_gallery_file_round_trips():
    """A compound with nobody enrolled yet still publishes a loadable gallery."""
    g = Gallery.from_arrays("dlib-resnet", [], np.zeros((0, 128), np.float32), version=3)
    h = Gallery.from_bytes(g.to_bytes())
    assert len(h) == 0 and h.dim == 128 and h.version == 3
