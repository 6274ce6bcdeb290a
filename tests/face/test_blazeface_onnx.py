"""The BlazeFace ONNX graph `menwei models build` makes agrees with the original .tflite run by
Google's own runtime (LiteRT, ai-edge-litert, a dev dependency) on real photos.

Tolerance: every output within 1e-5 of that output's largest magnitude on the photo (regressors
reach about 110 px, logits about 20). Measured at commit time: max abs difference 1.6e-4 on the
regressors (about 1.4e-6 of their range, a dozen float32 steps at that magnitude) and 2.3e-5 on
the logits, over every photo of tests/data/faces. Both runtimes compute in float32 from the same
float16 weights; the difference is summation order.
"""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from edge.face.blazeface.detector import BlazeFaceDetector, to_tensor
from edge.face.image_io import iter_image_files, load_image

RELATIVE = 1e-5


@pytest.fixture(scope="module")
def pair(engine):
    paths = engine.runtime_paths
    lite = Interpreter(model_path=str(paths["detector_source"]))
    lite.allocate_tensors()
    return BlazeFaceDetector(paths["detector"]), lite


def _litert(lite: Interpreter, tensor_nchw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inp = lite.get_input_details()[0]
    lite.set_tensor(inp["index"], np.ascontiguousarray(tensor_nchw.transpose(0, 2, 3, 1)))  # LiteRT is NHWC
    lite.invoke()
    outs = {o["shape"][-1]: lite.get_tensor(o["index"]) for o in lite.get_output_details()}
    return outs[16], outs[1]


def _photos(faces_dir):
    return [p for p in iter_image_files(faces_dir) if "mask_" not in p.name]


def test_the_graph_has_the_tflite_shapes(pair):
    onnx, lite = pair
    assert [tuple(d["shape"]) for d in lite.get_input_details()] == [(1, 192, 192, 3)]
    reg, cls = onnx.run_tensor(np.zeros((1, 3, 192, 192), np.float32))
    assert reg.shape == (1, 2304, 16) and cls.shape == (1, 2304, 1)


def test_onnx_agrees_with_litert_on_real_photos(pair, faces_dir):
    onnx, lite = pair
    photos = _photos(faces_dir)
    assert len(photos) >= 15
    for path in photos:
        tensor = to_tensor(load_image(path), 192)[0]
        ref_reg, ref_cls = _litert(lite, tensor)
        reg, cls = onnx.run_tensor(tensor)
        for got, ref in ((reg, ref_reg), (cls, ref_cls)):
            tol = RELATIVE * float(np.abs(ref).max())
            assert float(np.abs(got - ref).max()) <= tol, path.name


def test_a_face_photo_gives_confident_anchors_in_both_runtimes(pair, faces_dir):
    """Agreement on a blank input would prove little: the photos must really light the face anchors."""
    onnx, lite = pair
    tensor = to_tensor(load_image(faces_dir / "knn_examples/test/obama1.jpg"), 192)[0]
    _, ref_cls = _litert(lite, tensor)
    _, cls = onnx.run_tensor(tensor)
    # logit 0 is score 0.5, the pack's threshold
    assert (ref_cls > 0.0).sum() >= 2 and ((ref_cls > 0.0) == (cls > 0.0)).all()
