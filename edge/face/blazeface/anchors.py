"""SSD anchors as MediaPipe's SsdAnchorsCalculator makes them (ssd_anchors_calculator.cc).

Layers that share a stride share one feature map; each cell gets one anchor per aspect ratio per
layer of the group, plus one interpolated anchor per layer when interpolated_scale_aspect_ratio > 0.
With fixed_anchor_size every anchor is 1 x 1 (normalised), so only the centres matter:
((x + anchor_offset) / feature_width, (y + anchor_offset) / feature_height), rows outer, anchors innermost.
"""

from __future__ import annotations

import math

import numpy as np

from edge.face.blazeface.options import BlazeOptions


def _scale(options: BlazeOptions, layer: int) -> float:
    n = len(options.strides)
    if n == 1:
        return (options.min_scale + options.max_scale) * 0.5
    return options.min_scale + (options.max_scale - options.min_scale) * layer / (n - 1.0)


def ssd_anchors(options: BlazeOptions) -> np.ndarray:
    """(num_boxes, 4) anchors as (x_center, y_center, w, h), normalised to the input tensor."""
    strides = options.strides
    out: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < len(strides):
        sizes: list[tuple[float, float]] = []  # (w, h) of each anchor of a cell
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            scale = _scale(options, last)
            for ratio in options.aspect_ratios:
                r = math.sqrt(ratio)
                sizes.append((scale * r, scale / r))
            if options.interpolated_scale_aspect_ratio > 0.0:
                nxt = 1.0 if last == len(strides) - 1 else _scale(options, last + 1)
                s = math.sqrt(scale * nxt)
                r = math.sqrt(options.interpolated_scale_aspect_ratio)
                sizes.append((s * r, s / r))
            last += 1
        fm = math.ceil(options.tensor_size / strides[layer])
        for y in range(fm):
            for x in range(fm):
                cx = (x + options.anchor_offset) / fm
                cy = (y + options.anchor_offset) / fm
                for w, h in sizes:
                    out.append((cx, cy, 1.0, 1.0) if options.fixed_anchor_size else (cx, cy, w, h))
        layer = last
    anchors = np.asarray(out, dtype=np.float32)
    if len(anchors) != options.num_boxes:
        raise ValueError(f"{options.name}: {len(anchors)} anchors, the graph says num_boxes {options.num_boxes}")
    return anchors
