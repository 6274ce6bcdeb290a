"""The pipeline tests' shared fixtures: the default pack's engine and the residents' gallery
(enrolled from knn_examples/train, which no walk-up video uses)."""

from __future__ import annotations

import pytest

from edge.face.engine import FaceEngine
from edge.face.service import build_folder_gallery


@pytest.fixture(scope="module")
def engine():
    return FaceEngine.load()


@pytest.fixture(scope="module")
def gallery(engine, faces_dir):
    g, problems = build_folder_gallery(engine, faces_dir / "knn_examples" / "train")
    assert problems == []
    return g
