"""The one place that decides how many threads onnxruntime and OpenCV use on this box.

A gate box runs capture, detection, embedding and the MQTT link at once: by default inference
gets all cores but OpenCV is kept to one thread so resizes and colour conversions do not fight
the network for cores. MENWEI_THREADS overrides the inference thread count.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import onnxruntime as ort


def inference_threads(requested: int | None = None) -> int:
    if requested:
        return max(1, int(requested))
    env = os.environ.get("MENWEI_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, os.cpu_count() or 1)


def configure_opencv(threads: int = 1) -> None:
    cv2.setNumThreads(threads)


def onnx_session(path: Path | str, threads: int | None = None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = inference_threads(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # warnings about unused initialisers are noise on a gate's console
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
