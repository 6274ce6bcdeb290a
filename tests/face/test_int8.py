"""The optional int8 network: kept only because it identifies exactly like the fp32 one."""

from __future__ import annotations

import numpy as np
import pytest

from edge.face.engine import FaceEngine
from edge.face.image_io import iter_image_files, load_image


@pytest.fixture(scope="module")
def int8_engine():
    return FaceEngine.load(precision="int8")


def test_int8_identifies_every_probe_like_fp32(engine, int8_engine, faces_dir):
    from edge.face.service import build_folder_gallery

    g32, _ = build_folder_gallery(engine, faces_dir / "knn_examples/train")
    g8, _ = build_folder_gallery(int8_engine, faces_dir / "knn_examples/train")
    probes = iter_image_files(faces_dir / "knn_examples/test") + iter_image_files(faces_dir / "misc")
    for p in probes:
        img = load_image(p)
        a = [r.match.identity if r.match else None for r in engine.identify(img, g32)]
        b = [r.match.identity if r.match else None for r in int8_engine.identify(img, g8)]
        assert a == b, p.name


def test_int8_embeddings_stay_close_to_fp32(engine, int8_engine, faces_dir):
    img = load_image(faces_dir / "knn_examples/test/obama_and_biden.jpg")
    a = np.stack([f.embedding for f in engine.analyse(img)])
    b = np.stack([f.embedding for f in int8_engine.analyse(img)])
    assert np.min(np.sum(a * b, axis=1)) > 0.995


def test_unknown_precision_is_refused():
    from edge.face.errors import FaceError

    with pytest.raises(FaceError) as exc:
        FaceEngine.load(precision="fp16")
    assert exc.value.code == "bad_option"
