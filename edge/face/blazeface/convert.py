"""Build step: a BlazeFace .tflite → ONNX, once, with tflite2onnx (no TensorFlow needed).

The .tflite files store their weights as float16 behind DEQUANTIZE ops; tflite2onnx folds them
into float32 initialisers (it warns that float16 is "not tested": tests/face/test_blazeface_onnx.py
compares the converted graphs with LiteRT running the original files). The ONNX input is NCHW
(1, 3, S, S), RGB in [-1, 1]; outputs are the regressors (1, N, 16) and classificators (1, N, 1).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable
from pathlib import Path

import onnx

from edge.modelpack.manifest import PackError
from edge.modelpack.store import sha256_file


def convert(tflite_path: Path, out: Path, progress: Callable[[str], None] | None = None) -> str:
    """Write `out` (atomically) and return its sha256."""
    try:
        import tflite2onnx
    except ImportError:
        raise PackError("building the BlazeFace detector needs tflite2onnx (pip install tflite2onnx)",
                        code="package_missing") from None
    tmp = out.with_name(out.name + ".building")
    if progress:
        progress(f"converting {tflite_path.name} to ONNX (tflite2onnx)")
    # tflite2onnx logs a float16 warning per weight tensor; the equivalence test is what checks them
    log = logging.getLogger("tflite2onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            tflite2onnx.convert(str(tflite_path), str(tmp))
    finally:
        log.setLevel(level)
    model = onnx.load(str(tmp))
    onnx.checker.check_model(model)
    names = [o.name for o in model.graph.output]
    if len(names) != 2:
        tmp.unlink(missing_ok=True)
        raise PackError(f"{tflite_path.name}: expected 2 outputs (regressors, classificators), got {names}",
                        code="bad_model")
    os.replace(tmp, out)
    return sha256_file(out)
