"""Read dlib_face_recognition_resnet_model_v1.dat into plain numpy layers, without dlib.

The file is dlib's `serialize(anet_type)` of the network in dlib/examples/dnn_face_recognition_ex.cpp:

    loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
        max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>>

dlib's nested templates serialise outside-in (dnn/core.h): add_loss_layer writes its version, the
loss details, then the subnetwork; every add_layer writes its version, then its subnetwork, and only
after that its own details and bookkeeping fields; add_tag_layer / add_skip_layer write a version and
their subnetwork only. So the file is: all wrapper versions from the loss inwards, the input layer,
then each layer's details from the input outwards. The tag and skip ids are template arguments and
are not in the file, which is why the architecture below is spelled out (and checked against the
file's version numbers and layer parameters) instead of being discovered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.face.dlib_onnx.errors import DlibFormatError
from edge.face.dlib_onnx.serial import (
    Stream,
    read_alias_tensor,
    read_bool,
    read_float,
    read_int,
    read_str,
    read_tensor,
)

# dlib/dnn/layers.h: enum layer_mode { CONV_MODE = 0, FC_MODE = 1 }; enum fc_bias_mode { FC_HAS_BIAS = 0,
# FC_NO_BIAS = 1 }.
CONV_MODE = 0
FC_NO_BIAS = 1


@dataclass(frozen=True)
class Wrapper:
    """One element of the template nest: an add_layer (`kind` = layer type) or a tag / skip."""

    kind: str  # con | affine | relu | add_prev | avg_pool | max_pool | fc | tag | skip
    spec: dict = field(default_factory=dict)  # what the template fixes (filters, kernel, stride, tag id)


@dataclass
class Layer:
    """A computational layer as read from the file; arrays are float32."""

    kind: str
    attrs: dict
    weights: dict[str, np.ndarray]


@dataclass
class DlibNet:
    """The network inside-out: `steps` run from the input towards the 128-D output."""

    mean_rgb: tuple[float, float, float]
    scale: float
    input_size: tuple[int, int]  # (rows, cols)
    steps: list[Wrapper | Layer]
    loss: dict

    @property
    def layers(self) -> list[Layer]:
        return [s for s in self.steps if isinstance(s, Layer)]


# ---- the architecture of anet_type (dnn_face_recognition_ex.cpp), outermost first -----------------


def _con(n: int, k: int, stride: int) -> Wrapper:
    return Wrapper("con", {"num_filters": n, "nr": k, "nc": k, "stride": stride})


def _block(n: int, stride: int) -> list[Wrapper]:
    # block = BN<con<N,3,3,1,1, relu<BN<con<N,3,3,stride,stride, SUBNET>>>>>, BN = affine
    return [Wrapper("affine"), _con(n, 3, 1), Wrapper("relu"), Wrapper("affine"), _con(n, 3, stride)]


def _ares(n: int) -> list[Wrapper]:
    # ares = relu<residual<block,N,affine>>, residual = add_prev1<block<N,BN,1,tag1<SUBNET>>>
    return [Wrapper("relu"), Wrapper("add_prev", {"tag": 1}), *_block(n, 1), Wrapper("tag", {"tag": 1})]


def _ares_down(n: int) -> list[Wrapper]:
    # residual_down = add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N,BN,2, tag1<SUBNET>>>>>>
    return [
        Wrapper("relu"),
        Wrapper("add_prev", {"tag": 2}),
        Wrapper("avg_pool", {"nr": 2, "nc": 2, "stride": 2}),
        Wrapper("skip", {"tag": 1}),
        Wrapper("tag", {"tag": 2}),
        *_block(n, 2),
        Wrapper("tag", {"tag": 1}),
    ]


def anet_architecture() -> list[Wrapper]:
    """The wrappers of anet_type from the loss inwards (loss and input layer excluded)."""
    alevel0 = _ares_down(256)
    alevel1 = _ares(256) + _ares(256) + _ares_down(256)
    alevel2 = _ares(128) + _ares(128) + _ares_down(128)
    alevel3 = _ares(64) + _ares(64) + _ares(64) + _ares_down(64)
    alevel4 = _ares(32) + _ares(32) + _ares(32)
    return [
        Wrapper("fc", {"num_outputs": 128}),
        Wrapper("avg_pool", {"nr": 0, "nc": 0, "stride": 1}),  # avg_pool_everything = avg_pool<0,0,1,1>
        *alevel0,
        *alevel1,
        *alevel2,
        *alevel3,
        *alevel4,
        Wrapper("max_pool", {"nr": 3, "nc": 3, "stride": 2}),
        Wrapper("relu"),
        Wrapper("affine"),
        _con(32, 7, 2),
    ]


# ---- layer details (dlib/dnn/layers.h serialize functions) ----------------------------------------


def _skip_floats(s: Stream, n: int) -> None:
    for _ in range(n):
        read_float(s)  # learning-rate / weight-decay multipliers: training-only


def _read_details(s: Stream) -> Layer:
    name = read_str(s)
    if name == "con_4":
        params = read_tensor(s).reshape(-1)
        num_filters, nr, nc = read_int(s), read_int(s), read_int(s)
        stride_y, stride_x, pad_y, pad_x = read_int(s), read_int(s), read_int(s), read_int(s)
        filters = read_alias_tensor(s)
        biases = read_alias_tensor(s)
        _skip_floats(s, 4)
        n_f = int(np.prod(filters))
        if n_f + int(np.prod(biases)) != params.size:
            raise DlibFormatError(f"con_ params size {params.size} does not match {filters} + {biases}")
        w = params[:n_f].reshape(filters)  # (num_filters, in_channels, nr, nc), as ONNX Conv wants
        b = params[n_f:].reshape(-1)
        attrs = dict(num_filters=num_filters, nr=nr, nc=nc, stride=(stride_y, stride_x), pad=(pad_y, pad_x))
        return Layer("con", attrs, {"W": w, "B": b})
    if name == "affine_":
        params = read_tensor(s).reshape(-1)
        gamma = read_alias_tensor(s)
        beta = read_alias_tensor(s)
        # Very old files lack the mode; then the next byte is the owning add_layer's bool '0'/'1'.
        mode = CONV_MODE if s.data[s.pos] in (0x30, 0x31) else read_int(s)
        n_g = int(np.prod(gamma))
        if n_g + int(np.prod(beta)) != params.size:
            raise DlibFormatError(f"affine_ params size {params.size} does not match {gamma} + {beta}")
        return Layer("affine", {"mode": mode}, {"gamma": params[:n_g].copy(), "beta": params[n_g:].copy()})
    if name == "relu_":
        return Layer("relu", {}, {})
    if name == "add_prev_":
        return Layer("add_prev", {}, {})
    if name in ("avg_pool_2", "max_pool_2"):
        nr, nc, stride_y, stride_x, pad_y, pad_x = (read_int(s) for _ in range(6))
        attrs = dict(nr=nr, nc=nc, stride=(stride_y, stride_x), pad=(pad_y, pad_x))
        return Layer(name[:-2], attrs, {})
    if name == "fc_2":
        num_outputs, num_inputs = read_int(s), read_int(s)
        params = read_tensor(s).reshape(-1)
        weights = read_alias_tensor(s)
        read_alias_tensor(s)  # biases (empty for fc_no_bias)
        bias_mode = read_int(s)
        _skip_floats(s, 4)
        if bias_mode != FC_NO_BIAS:
            raise DlibFormatError("fc_ layer with a bias: this converter only knows fc_no_bias")
        n_w = int(np.prod(weights))
        # tt::gemm(0, output, 1, input, false, w, false): output = input(N x num_inputs) * w, so w is
        # (num_inputs, num_outputs) row-major.
        w = params[:n_w].reshape(num_inputs, num_outputs)
        return Layer("fc", {"num_outputs": num_outputs, "num_inputs": num_inputs}, {"W": w})
    raise DlibFormatError(f"unknown dlib layer '{name}' at byte {s.pos}")


def _check_spec(layer: Layer, spec: dict, index: int) -> None:
    a = layer.attrs
    for key, want in spec.items():
        got = a["stride"][0] if key == "stride" else a.get(key)
        if got != want:
            raise DlibFormatError(f"layer {index} ({layer.kind}): {key} is {got}, anet_type has {want}")


def _read_trailer(s: Stream, innermost: bool, version: int) -> None:
    # add_layer bookkeeping after the details (dnn/core.h): this_layer_setup_called,
    # gradient_input_is_stale, get_output_and_gradient_input_disabled, x_grad, cached_output, then
    # params_grad (generic add_layer) or grad_final [+ _sample_expansion_factor in v3] (the
    # specialisation sitting on the input layer). All training state: read and dropped.
    for _ in range(3):
        read_bool(s)
    read_tensor(s)
    read_tensor(s)
    read_tensor(s)
    if innermost and version >= 3:
        read_int(s)


def read_dlib_resnet(path: Path) -> DlibNet:
    """Parse dlib's face-recognition ResNet file; raises DlibFormatError if it is anything else."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DlibFormatError(f"cannot read {path}: {e.strerror}") from None
    s = Stream(data)
    loss_version = read_int(s)
    if loss_version != 1:
        raise DlibFormatError(f"{path}: not a dlib network file (loss layer version {loss_version})")
    loss_name = read_str(s)
    if loss_name == "loss_metric_2":
        loss = {"margin": read_float(s), "distance_threshold": read_float(s)}
    elif loss_name == "loss_metric_":
        loss = {}
    else:
        raise DlibFormatError(f"{path}: loss layer is '{loss_name}', expected dlib's loss_metric")

    arch = anet_architecture()
    versions = []
    for i, w in enumerate(arch):
        v = read_int(s)
        innermost = i == len(arch) - 1
        ok = {1} if w.kind in ("tag", "skip") else ({2, 3} if innermost else {2})
        if v not in ok:
            raise DlibFormatError(f"{path}: wrapper {i} ({w.kind}) has version {v}; not dlib's anet_type")
        versions.append(v)

    if read_str(s) != "input_rgb_image_sized":
        raise DlibFormatError(f"{path}: input layer is not input_rgb_image_sized")
    mean_rgb = (read_float(s), read_float(s), read_float(s))
    input_size = (read_int(s), read_int(s))

    steps: list[Wrapper | Layer] = []
    for i in range(len(arch) - 1, -1, -1):
        w = arch[i]
        if w.kind in ("tag", "skip"):
            steps.append(w)
            continue
        layer = _read_details(s)
        if layer.kind != w.kind:
            raise DlibFormatError(f"{path}: layer {i} is {layer.kind}, anet_type has {w.kind}")
        _check_spec(layer, {k: v for k, v in w.spec.items() if k != "tag"}, i)
        if w.kind == "add_prev":
            layer.attrs["tag"] = w.spec["tag"]
        _read_trailer(s, innermost=i == len(arch) - 1, version=versions[i])
        steps.append(layer)
    if not s.at_end:
        raise DlibFormatError(f"{path}: {len(s.data) - s.pos} unexpected bytes after the network")
    # input_rgb_image_sized::to_tensor (dnn/input.h): value = (pixel - avg)/256.0 per channel.
    return DlibNet(mean_rgb=mean_rgb, scale=1.0 / 256.0, input_size=input_size, steps=steps, loss=loss)
