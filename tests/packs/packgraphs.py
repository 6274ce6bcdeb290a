"""Small ONNX graphs with the real input/output names and shapes of SCRFD, ArcFace, YuNet and SFace,
whose outputs the tests control, and the installed insightface package as the reference.

The real weights cannot be downloaded here, so each graph computes something simple and known from its
input: a detector's score map is the average of one colour channel over each stride cell (a pure red /
green / blue square lights exactly one stride), and its box/landmark outputs are constants; an
embedder's vector is a fixed random projection of the 14x14-pooled chip. The tests compute the expected
results by hand or with numpy, and compare with insightface's and OpenCV's own implementations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]


class _Graph:
    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, value, dtype=np.float32) -> str:
        n = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), n))
        return n

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        out = output or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def channel_pool(self, x: str, channel: int, stride: int) -> str:
        """(1, 1, H/stride, W/stride): mean of one input channel over each stride x stride cell."""
        sl = self.op("Slice", [x, self.const([channel], np.int64), self.const([channel + 1], np.int64),
                               self.const([1], np.int64)])
        return self.op("AveragePool", [sl], kernel_shape=[stride, stride], strides=[stride, stride])

    def broadcast_const(self, like: str, value: np.ndarray, output: str) -> str:
        """`value` (1, k) or (1, 1, k) broadcast over the rows of `like`: like * 0 + value."""
        zero = self.op("Mul", [like, self.const(0.0)])
        return self.op("Add", [zero, self.const(value)], output)

    def save(self, path: Path, inputs, outputs) -> Path:
        graph = helper.make_graph(self.nodes, "test", inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=OPSET)
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
        return path


# buffalo det_500m / det_10g output names: scores for strides 8/16/32, then boxes, then landmarks
SCRFD_OUTPUTS = ["443", "468", "493", "446", "471", "496", "449", "474", "499"]
# RGB channel lighting each stride once the detector has swapped BGR→RGB: red → 8, green → 16, blue → 32
SCRFD_CHANNEL = {8: 0, 16: 1, 32: 2}


def build_scrfd(path: Path, box_dist: dict[int, list[float]], kps_off: dict[int, list[float]]) -> Path:
    """SCRFD-shaped: input.1 [1, 3, ?, ?], 9 rank-2 outputs, 2 anchors per cell.
    score = (channel mean + 1) / 2 of the normalised input ((x - 127.5) / 128), boxes/landmarks constant
    (in stride units, as the real network outputs them)."""
    g = _Graph()
    outs_scores, outs_box, outs_kps = [], [], []
    for i, s in enumerate((8, 16, 32)):
        pooled = g.channel_pool("input.1", SCRFD_CHANNEL[s], s)
        v = g.op("Mul", [g.op("Add", [pooled, g.const(1.0)]), g.const(0.5)])
        col = g.op("Reshape", [v, g.const([-1, 1], np.int64)])
        two = g.op("Concat", [col, col], axis=1)  # both anchors of a cell see the same score
        score = g.op("Reshape", [two, g.const([-1, 1], np.int64)], SCRFD_OUTPUTS[i])
        outs_scores.append(score)
        outs_box.append(g.broadcast_const(score, np.array([box_dist[s]], np.float32), SCRFD_OUTPUTS[3 + i]))
        outs_kps.append(g.broadcast_const(score, np.array([kps_off[s]], np.float32), SCRFD_OUTPUTS[6 + i]))
    inputs = [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "?", "?"])]
    # one symbolic length per stride (the real graphs leave them dynamic too)
    rows = ["n8", "n16", "n32"]
    outputs = ([helper.make_tensor_value_info(n, TensorProto.FLOAT, [rows[i], 1])
                for i, n in enumerate(SCRFD_OUTPUTS[:3])]
               + [helper.make_tensor_value_info(n, TensorProto.FLOAT, [rows[i], 4])
                  for i, n in enumerate(SCRFD_OUTPUTS[3:6])]
               + [helper.make_tensor_value_info(n, TensorProto.FLOAT, [rows[i], 10])
                  for i, n in enumerate(SCRFD_OUTPUTS[6:])])
    return g.save(path, inputs, outputs)


# BGR channel lighting each YuNet stride (YuNet takes BGR): red (2) → 8, green (1) → 16, blue (0) → 32
YUNET_CHANNEL = {8: 2, 16: 1, 32: 0}


def build_yunet(path: Path, bbox: dict[int, list[float]], kps: dict[int, list[float]], size=(640, 640)) -> Path:
    """YuNet-2023mar-shaped: input [1, 3, 640, 640] (fixed), outputs cls/obj/bbox/kps _8/_16/_32 of shape
    [1, N, 1|4|10]. cls = channel mean / 255 of the raw BGR input, obj = 1, bbox/kps constant."""
    g = _Graph()
    w, h = size
    outs = {}
    for s in (8, 16, 32):
        pooled = g.channel_pool("input", YUNET_CHANNEL[s], s)
        n = (h // s) * (w // s)
        cls = g.op("Reshape", [g.op("Mul", [pooled, g.const(1 / 255.0)]), g.const([1, -1, 1], np.int64)],
                   f"cls_{s}")
        outs[f"cls_{s}"] = (cls, 1, n)
        g.broadcast_const(cls, np.ones((1, 1, 1), np.float32), f"obj_{s}")
        outs[f"obj_{s}"] = (f"obj_{s}", 1, n)
        g.broadcast_const(cls, np.array([[bbox[s]]], np.float32), f"bbox_{s}")
        outs[f"bbox_{s}"] = (f"bbox_{s}", 4, n)
        g.broadcast_const(cls, np.array([[kps[s]]], np.float32), f"kps_{s}")
        outs[f"kps_{s}"] = (f"kps_{s}", 10, n)
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])]
    order = [f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in (8, 16, 32)]
    outputs = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [1, outs[k][2], outs[k][1]]) for k in order]
    return g.save(path, inputs, outputs)


def build_embedder(path: Path, input_name: str, output_name: str, dim: int, batch, seed: int) -> tuple[Path, np.ndarray]:
    """112x112 → 14x14 average pool → (n, 192) → fixed random projection to `dim`. Returns (path, W)."""
    g = _Graph()
    w = np.random.default_rng(seed).standard_normal((192, dim)).astype(np.float32)
    pooled = g.op("AveragePool", [input_name], kernel_shape=[14, 14], strides=[14, 14])
    flat = g.op("Flatten", [pooled], axis=1)
    g.op("MatMul", [flat, g.const(w)], output_name)
    inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, 3, 112, 112])]
    outputs = [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [batch, dim])]
    return g.save(path, inputs, outputs), w


def pool_project(blob: np.ndarray, w: np.ndarray) -> np.ndarray:
    """What build_embedder's graph computes, in numpy: (n, 3, 112, 112) → (n, dim)."""
    n = blob.shape[0]
    pooled = blob.reshape(n, 3, 8, 14, 8, 14).mean(axis=(3, 5)).reshape(n, 192)
    return pooled @ w


