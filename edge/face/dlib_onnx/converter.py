"""Write dlib's face-recognition ResNet as an ONNX graph that computes the same function.

Layer semantics follow dlib's own code (cited per case below); dlib's C++ ONNX exporter
(dlib/dnn/onnx.h) maps the same layers but cannot be called from Python, so this is our own.
Graph: input "chips" float32 [N,3,150,150], raw RGB pixel values 0..255 (the input layer's
mean/scale is folded into the first convolution); output "embeddings" float32 [N,128], dlib's raw
descriptor, NOT L2-normalised (callers normalise; dlib's own compute_face_descriptor does not).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge.face.dlib_onnx.errors import DlibFormatError
from edge.face.dlib_onnx.reader import CONV_MODE, DlibNet, Layer, Wrapper, read_dlib_resnet

INPUT_NAME = "chips"
OUTPUT_NAME = "embeddings"
OPSET = 17
CONVERTER_VERSION = "1"  # bump when the emitted graph changes, so caches rebuild


class _Graph:
    """Accumulates nodes/initialisers and tracks each tensor's static CHW shape."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, prefix: str, value: np.ndarray) -> str:
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(value, n))
        return n

    def node(self, op: str, inputs: list[str], prefix: str, **attrs) -> str:
        out = self.name(prefix)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _pool_out(size: int, k: int, stride: int, pad: int) -> int:
    # dlib (cpu_dlib.cpp / cudnn pooling and conv): 1 + (size + 2*pad - k)/stride, integer division.
    return 1 + (size + 2 * pad - k) // stride


def _fold_affine(con: Layer, aff: Layer | None) -> tuple[np.ndarray, np.ndarray]:
    """Fold affine_ (dlib's frozen batch norm: y = gamma*x + beta per channel) into the conv.

    gamma*(W*x + b) + beta == (gamma*W)*x + (gamma*b + beta): exact up to float rounding, and valid
    because the affine sits directly on the conv's output (BN<con<...>> in anet_type).
    """
    w = con.weights["W"].astype(np.float64)
    b = con.weights["B"].astype(np.float64)
    if aff is not None:
        if aff.attrs["mode"] != CONV_MODE:
            raise DlibFormatError("affine_ in FC_MODE after a convolution is not expected in this network")
        g = aff.weights["gamma"].astype(np.float64)
        w = w * g[:, None, None, None]
        b = b * g + aff.weights["beta"].astype(np.float64)
    return w, b


def _emit(net: DlibNet, g: _Graph) -> str:
    steps = net.steps
    cur = INPUT_NAME
    shape = (3, *net.input_size)  # C, H, W
    input_folded = False
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}
    i = 0
    while i < len(steps):
        st = steps[i]
        if isinstance(st, Wrapper):
            # add_tag_layer marks its input for add_prev/skip; add_skip_layer outputs the most recent
            # tag of that id below it (dnn/core.h layer<tag>(sub) searches inwards).
            if st.kind == "tag":
                tags[st.spec["tag"]] = (cur, shape)
            else:
                cur, shape = tags[st.spec["tag"]]
            i += 1
            continue
        kind, a = st.kind, st.attrs
        if kind == "con":
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            aff = nxt if isinstance(nxt, Layer) and nxt.kind == "affine" else None
            w, b = _fold_affine(st, aff)
            py, px = a["pad"]
            if not input_folded:
                mean = np.asarray(net.mean_rgb, dtype=np.float64)
                if py == 0 and px == 0:
                    # conv(W, (x - m)*s) + b == conv(W*s, x) + (b - sum(W*m*s)): exact only without
                    # zero padding (padding would see -m*s, not 0), which holds for this network.
                    b = b - (w * mean[None, :, None, None]).sum(axis=(1, 2, 3)) * net.scale
                    w = w * net.scale
                else:
                    m = g.const("mean", mean.astype(np.float32).reshape(1, 3, 1, 1))
                    cur = g.node("Sub", [cur, m], "centred")
                    cur = g.node("Mul", [cur, g.const("scale", np.float32(net.scale).reshape(1))], "scaled")
                input_folded = True
            sy, sx = a["stride"]
            wn = g.const("W", w.astype(np.float32))
            bn = g.const("B", b.astype(np.float32))
            cur = g.node(
                "Conv", [cur, wn, bn], "conv",
                kernel_shape=[a["nr"], a["nc"]], strides=[sy, sx], pads=[py, px, py, px],
            )
            shape = (a["num_filters"], _pool_out(shape[1], a["nr"], sy, py), _pool_out(shape[2], a["nc"], sx, px))
            i += 2 if aff is not None else 1
            continue
        if kind == "affine":  # an affine not preceded by a conv: emit it as Mul/Add
            gm = g.const("gamma", st.weights["gamma"].reshape(1, -1, 1, 1))
            bt = g.const("beta", st.weights["beta"].reshape(1, -1, 1, 1))
            cur = g.node("Add", [g.node("Mul", [cur, gm], "affmul"), bt], "affine")
        elif kind == "relu":
            cur = g.node("Relu", [cur], "relu")
        elif kind in ("max_pool", "avg_pool"):
            sy, sx = a["stride"]
            py, px = a["pad"]
            if kind == "avg_pool" and a["nr"] == 0 and a["nc"] == 0:
                # avg_pool_everything = avg_pool<0,0,1,1>: a window of the whole input (layers.h:
                # "_nr!=0?_nr:sub.get_output().nr()"), i.e. a global average.
                cur = g.node("GlobalAveragePool", [cur], "gap")
                shape = (shape[0], 1, 1)
            else:
                kh, kw = a["nr"] or shape[1], a["nc"] or shape[2]
                op = "MaxPool" if kind == "max_pool" else "AveragePool"
                extra = {} if kind == "max_pool" else {"count_include_pad": 0}  # cuDNN EXCLUDE_PADDING
                cur = g.node(op, [cur], kind, kernel_shape=[kh, kw], strides=[sy, sx],
                             pads=[py, px, py, px], **extra)
                shape = (shape[0], _pool_out(shape[1], kh, sy, py), _pool_out(shape[2], kw, sx, px))
        elif kind == "add_prev":
            other, oshape = tags[a["tag"]]
            # add_prev_::forward (layers.h) sizes the output to the max of both inputs in every
            # dimension and tt::add (cpu_dlib.cpp) treats out-of-range elements as 0: here that
            # happens where the strided conv branch (3x3, no pad) is smaller than the avg-pooled
            # shortcut (8x8 -> 3x3 vs 4x4) and where the shortcut has fewer channels. So zero-pad
            # both to the common shape at the far end of C, H and W, then add.
            out_shape = tuple(max(p, q) for p, q in zip(shape, oshape, strict=True))
            cur = g.node("Add", [_pad_to(g, cur, shape, out_shape), _pad_to(g, other, oshape, out_shape)],
                         "add")
            shape = out_shape
        elif kind == "fc":
            flat = g.node("Flatten", [cur], "flat", axis=1)
            if a["num_inputs"] != int(np.prod(shape)):
                raise DlibFormatError(f"fc_ expects {a['num_inputs']} inputs, graph gives {shape}")
            cur = g.node("MatMul", [flat, g.const("fc_W", st.weights["W"])], "fc")
            shape = (a["num_outputs"],)
        else:  # pragma: no cover - the reader only yields the kinds above
            raise DlibFormatError(f"no ONNX mapping for dlib layer {kind}")
        i += 1
    return cur


def _pad_to(g: _Graph, name: str, shape: tuple, target: tuple) -> str:
    if shape == target:
        return name
    ends = [t - s for s, t in zip(shape, target, strict=True)]
    pads = np.array([0, 0, 0, 0, 0, *ends], dtype=np.int64)  # begins N,C,H,W then ends N,C,H,W
    return g.node("Pad", [name, g.const("pads", pads)], "pad", mode="constant")


def net_to_onnx(net: DlibNet) -> onnx.ModelProto:
    g = _Graph()
    out = _emit(net, g)
    g.nodes[-1].output[0] = OUTPUT_NAME
    g.nodes[-1].name = OUTPUT_NAME
    rows, cols = net.input_size
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, rows, cols])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 128])],
        g.inits,
    )
    del out
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="menwei-dlib-onnx", producer_version=CONVERTER_VERSION)
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    onnx.checker.check_model(model)
    return model


def build_onnx(dat_path: Path, out_path: Path, progress: Callable[[str], None] | None = None) -> str:
    """Convert dlib's .dat to ONNX at out_path (atomically: temp file + rename); return its sha256."""
    say = progress or (lambda _msg: None)
    dat_path, out_path = Path(dat_path), Path(out_path)
    say(f"reading dlib network {dat_path.name}")
    net = read_dlib_resnet(dat_path)
    say(f"converting {len(net.layers)} dlib layers to ONNX")
    model = net_to_onnx(net)
    helper.set_model_props(model, {
        "source": dat_path.name,
        "source_sha256": hashlib.sha256(dat_path.read_bytes()).hexdigest(),
        "converter_version": CONVERTER_VERSION,
        "output": "raw dlib descriptor (not L2-normalised)",
    })
    data = model.SerializeToString()
    digest = hashlib.sha256(data).hexdigest()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".part", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    say(f"wrote {out_path} ({len(data) / 1e6:.1f} MB, sha256 {digest[:12]}…)")
    return digest
