"""Issue 3's third equivalence: the converted network changes no identification result."""

from __future__ import annotations

from edge.face.engine import FaceEngine
from edge.face.image_io import iter_image_files, load_image
from edge.face.service import build_folder_gallery


def test_dlib_own_network_and_onnx_name_the_same_people(engine, faces_dir):
    native = FaceEngine.load(native=True)  # dlib's chip and dlib's network
    g_onnx, _ = build_folder_gallery(engine, faces_dir / "knn_examples/train")
    g_dlib, _ = build_folder_gallery(native, faces_dir / "knn_examples/train")
    for p in iter_image_files(faces_dir / "knn_examples/test") + iter_image_files(faces_dir / "misc"):
        img = load_image(p)
        a = engine.identify(img, g_onnx)
        b = native.identify(img, g_dlib)
        assert [r.match.identity if r.match else None for r in a] == \
               [r.match.identity if r.match else None for r in b], p.name
        for x, y in zip(a, b, strict=True):
            if x.best and y.best:
                assert abs(x.best.score - y.best.score) < 1e-3, p.name
