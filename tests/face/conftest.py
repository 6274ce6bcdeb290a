from __future__ import annotations

import pytest

from edge.face.engine import FaceEngine


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """The default pack exactly as users get it (ONNX network built once, cached)."""
    return FaceEngine.load()


@pytest.fixture(scope="session")
def knn_gallery(engine, faces_dir):
    from edge.face.service import build_folder_gallery

    gallery, problems = build_folder_gallery(engine, faces_dir / "knn_examples" / "train")
    assert problems == []
    return gallery
