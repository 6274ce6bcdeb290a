"""BlazeFace on onnxruntime: a frame in, face boxes and 6 keypoints in frame pixels out.

The frame is fitted into the square tensor keeping its aspect ratio and centred on black, as
MediaPipe's ImageToTensorCalculator does (keep_aspect_ratio, BORDER_ZERO), RGB scaled to [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.face import errors
from edge.face.blazeface.anchors import ssd_anchors
from edge.face.blazeface.decode import RawDetections, decode, weighted_nms
from edge.face.blazeface.options import MODELS, BlazeOptions
from edge.face.errors import FaceError
from edge.face.packs.base import Detection
from edge.runtime import onnx_session


def as_bgr(image_bgr: np.ndarray) -> np.ndarray:
    """A 3-channel view or copy of a BGR, BGRA or grey image; FaceError for anything else."""
    if image_bgr is None or not hasattr(image_bgr, "ndim") or image_bgr.size == 0 or image_bgr.ndim not in (2, 3):
        raise FaceError("no image to detect faces in (empty or not an image array)", code=errors.BAD_IMAGE)
    if image_bgr.ndim == 2:  # grey: the network wants three channels
        image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    elif image_bgr.shape[2] == 4:
        image_bgr = image_bgr[..., :3]
    elif image_bgr.shape[2] != 3:
        raise FaceError(f"an image with {image_bgr.shape[2]} channels is not a photo", code=errors.BAD_IMAGE)
    return image_bgr


def to_tensor(image_bgr: np.ndarray, size: int, area: bool = False) -> tuple[np.ndarray, float, float, float]:
    """(1, 3, size, size) float32 tensor, and (scale, pad_x, pad_y): tensor px = image px * scale + pad."""
    image_bgr = as_bgr(image_bgr)
    ih, iw = image_bgr.shape[:2]
    scale = size / max(ih, iw)
    nw, nh = max(1, round(iw * scale)), max(1, round(ih * scale))
    # Bilinear by default, as MediaPipe's ImageToTensorCalculator samples. `area` filters the
    # aliasing of a large shrink (INTER_AREA): 3 more masked probe faces found in photos
    # (bench/detector_bench.py), but 2.7 ms on a 1280x720 frame against 0.05 ms, so photos only.
    shrink = area and scale < 1
    resized = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    px, py = (size - nw) // 2, (size - nh) // 2
    # straight into the NCHW float tensor, black (-1) around: the same values as an 8-bit black canvas
    # converted whole, in 0.22 ms instead of 0.33 per frame (a loop frame's budget is 5 ms)
    x = np.full((1, 3, size, size), -1.0, np.float32)
    x[0, :, py : py + nh, px : px + nw] = resized.transpose(2, 0, 1)[::-1].astype(np.float32) * (2.0 / 255.0) - 1.0
    return x, scale, float(px), float(py)


class BlazeFaceDetector:
    """One BlazeFace model (short_range or full_range) converted to ONNX."""

    def __init__(self, onnx_path: Path, model: str = "full_range", *, min_score: float | None = None,
                 threads: int | None = 1, area: bool = False):
        self.area = area
        if model not in MODELS:
            raise FaceError(f"unknown BlazeFace model {model!r} (known: {', '.join(MODELS)})", code="bad_option")
        opts: BlazeOptions = MODELS[model]
        if min_score is not None:
            from dataclasses import replace

            opts = replace(opts, min_score_thresh=min_score)
        self.options = opts
        self.anchors = ssd_anchors(opts)
        # one thread by default: the network is small, and a second thread cost more in
        # synchronisation than it saved (3.5 ms with 1, 11 ms with 2 on the 2-core test machine)
        self._sess = onnx_session(onnx_path, threads=threads)
        self._input = self._sess.get_inputs()[0].name
        outs = self._sess.get_outputs()
        # regressors have 16 values per box, classificators 1: tell them apart by shape, not name
        by_width = {o.shape[-1]: o.name for o in outs}
        if set(by_width) != {16, 1}:
            raise FaceError(f"{Path(onnx_path).name}: not a BlazeFace graph (outputs {[o.shape for o in outs]})",
                            code="bad_model")
        self._outputs = [by_width[16], by_width[1]]

    def run_tensor(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw (regressors, classificators) for an input tensor."""
        reg, cls = self._sess.run(self._outputs, {self._input: tensor})
        return reg, cls

    def detect_normalised(self, image_bgr: np.ndarray) -> tuple[RawDetections, float, float, float]:
        det, _, scale, px, py = self.detect_normalised_with_candidates(image_bgr, None)
        return det, scale, px, py

    def detect_normalised_with_candidates(self, image_bgr: np.ndarray, candidate_score: float | None
                                          ) -> tuple[RawDetections, RawDetections | None, float, float, float]:
        """Detections at min_score, and (when candidate_score is given) the clusters that reach
        candidate_score but not min_score, from the same inference. The detections are NMS'd on
        their own, so they are exactly what detect() returns without candidates."""
        size = self.options.tensor_size
        tensor, scale, px, py = to_tensor(image_bgr, size, self.area)
        reg, cls = self.run_tensor(tensor)
        nms = self.options.min_suppression_threshold
        det = weighted_nms(decode(reg, cls, self.anchors, self.options), nms)
        cands = None
        if candidate_score is not None:
            from dataclasses import replace

            low = weighted_nms(decode(reg, cls, self.anchors, replace(self.options, min_score_thresh=candidate_score)),
                               nms)
            weak = low.scores < self.options.min_score_thresh
            cands = RawDetections(low.boxes[weak], low.keypoints[weak], low.scores[weak])
        return det, cands, scale, px, py

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        return self.detect_with_candidates(image_bgr, None)[0]

    def detect_with_candidates(self, image_bgr: np.ndarray, candidate_score: float | None
                               ) -> tuple[list[Detection], list[Detection]]:
        """(detections, candidates) in image pixels; candidates empty when candidate_score is None."""
        det, cands, scale, px, py = self.detect_normalised_with_candidates(image_bgr, candidate_score)
        ih, iw = image_bgr.shape[:2]
        found = self._to_pixels(det, scale, px, py, iw, ih)
        return found, (self._to_pixels(cands, scale, px, py, iw, ih) if cands is not None else [])

    def _to_pixels(self, det: RawDetections, scale: float, px: float, py: float, iw: int, ih: int
                   ) -> list[Detection]:
        size = self.options.tensor_size
        out = []
        for box, kps, score in zip(det.boxes, det.keypoints, det.scores, strict=True):
            x1, y1 = (box[0] * size - px) / scale, (box[1] * size - py) / scale
            x2, y2 = (box[2] * size - px) / scale, (box[3] * size - py) / scale
            x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(iw), x2), min(float(ih), y2)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            k = np.stack([(kps[:, 0] * size - px) / scale, (kps[:, 1] * size - py) / scale], axis=1)
            bbox = (int(round(x1)), int(round(y1)), int(round(x2 - x1)), int(round(y2 - y1)))
            out.append(Detection(bbox, float(score), None, k.astype(np.float32)))
        return out
