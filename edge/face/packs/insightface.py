"""InsightFace packs (buffalo_sc / buffalo_s / buffalo_l): SCRFD detector + ArcFace embedder on onnxruntime.

SCRFD decoding follows insightface/model_zoo/scrfd.py: the frame is letterboxed into the detector
input (640x640 by default), normalised as (x - 127.5) / 128 in RGB; each stride (8, 16, 32) gives
per-anchor scores, distances to the four box sides and offsets of the five landmarks, all in units
of the stride and measured from the anchor's top-left-of-cell centre (x * stride, y * stride);
candidates above the score threshold go through NMS. ArcFace takes the 5-point aligned 112x112 chip
in RGB, normalised as (x - 127.5) / 127.5, NCHW, and gives a 512-D vector we L2-normalise.

The weights are for non-commercial research only; the engine refuses to load these packs unless the
licence was accepted, and every load prints the notice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from edge.face.errors import FaceError
from edge.face.gallery import l2_normalise
from edge.face.packs.align import letterbox, norm_crop
from edge.face.packs.base import Detection, PackRuntime
from edge.modelpack.manifest import DetectorSpec, InputSpec, PackError, PackManifest
from edge.runtime import onnx_session


def fixed_dim(dim) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def anchor_centres(height: int, width: int, stride: int, num_anchors: int) -> np.ndarray:
    """(height * width * num_anchors, 2) anchor points in input pixels, row-major, anchors innermost."""
    centres = np.stack(np.mgrid[:height, :width][::-1], axis=-1).astype(np.float32)
    centres = (centres * stride).reshape(-1, 2)
    if num_anchors > 1:
        centres = np.repeat(centres, num_anchors, axis=0)
    return centres


def distance2bbox(points: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """(left, top, right, bottom) distances from each point → (x1, y1, x2, y2)."""
    return np.stack([points[:, 0] - distance[:, 0], points[:, 1] - distance[:, 1],
                     points[:, 0] + distance[:, 2], points[:, 1] + distance[:, 3]], axis=-1)


def distance2kps(points: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Offsets (dx0, dy0, dx1, dy1, …) from each point → absolute (x0, y0, x1, y1, …)."""
    out = np.empty_like(distance)
    out[:, 0::2] = points[:, 0:1] + distance[:, 0::2]
    out[:, 1::2] = points[:, 1:2] + distance[:, 1::2]
    return out


class ScrfdLayout:
    """Which output is which: SCRFD graphs have 6/9 (3 strides, 2 anchors) or 10/15 (5 strides, 1 anchor)
    outputs, scores first, then boxes, then (when present) landmarks, each group ordered by stride."""

    def __init__(self, n_outputs: int, batched: bool):
        if n_outputs in (6, 9):
            self.fmc, self.strides, self.num_anchors = 3, (8, 16, 32), 2
        elif n_outputs in (10, 15):
            self.fmc, self.strides, self.num_anchors = 5, (8, 16, 32, 64, 128), 1
        else:
            raise PackError(f"not an SCRFD graph: {n_outputs} outputs (expected 6, 9, 10 or 15)", code="bad_model")
        self.use_kps = n_outputs in (9, 15)
        self.batched = batched


def scrfd_decode(outputs: list[np.ndarray], layout: ScrfdLayout, input_hw: tuple[int, int],
                 threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Raw SCRFD outputs → (scores (n,), boxes (n, 4) x1 y1 x2 y2, landmarks (n, 5, 2) or None) in input
    pixels, for every anchor scoring at least `threshold` (before NMS)."""
    in_h, in_w = input_hw
    scores_l, boxes_l, kps_l = [], [], []
    for idx, stride in enumerate(layout.strides):
        take = (lambda a: a[0]) if layout.batched else (lambda a: a)
        scores = take(outputs[idx]).reshape(-1)
        dist = take(outputs[idx + layout.fmc]).reshape(-1, 4) * stride
        centres = anchor_centres(in_h // stride, in_w // stride, stride, layout.num_anchors)
        if centres.shape[0] != scores.shape[0]:
            raise FaceError(f"SCRFD stride {stride}: {scores.shape[0]} scores for {centres.shape[0]} anchors "
                            f"at input {in_w}x{in_h}", code="bad_model")
        keep = np.where(scores >= threshold)[0]
        scores_l.append(scores[keep])
        boxes_l.append(distance2bbox(centres[keep], dist[keep]))
        if layout.use_kps:
            kd = take(outputs[idx + 2 * layout.fmc]).reshape(-1, 10) * stride
            kps_l.append(distance2kps(centres[keep], kd[keep]).reshape(-1, 5, 2))
    scores = np.concatenate(scores_l).astype(np.float32)
    boxes = np.concatenate(boxes_l).astype(np.float32)
    kps = np.concatenate(kps_l).astype(np.float32) if layout.use_kps else None
    return scores, boxes, kps


def nms_xyxy(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, iou: float,
             top_k: int = 0) -> np.ndarray:
    """Indices kept by OpenCV's NMS, best score first."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    rects = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64)
    keep = cv2.dnn.NMSBoxes(rects, scores.astype(np.float32), score_threshold, iou, top_k=top_k)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def to_detections(boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray | None,
                  image_shape: tuple[int, ...]) -> list[Detection]:
    """Boxes (x1, y1, x2, y2) in image pixels → Detections with (x, y, w, h) clipped to the image."""
    ih, iw = image_shape[:2]
    out = []
    for i in range(len(boxes)):
        x1, y1, x2, y2 = boxes[i]
        x1, y1 = max(0.0, float(x1)), max(0.0, float(y1))
        x2, y2 = min(float(iw), float(x2)), min(float(ih), float(y2))
        if x2 <= x1 or y2 <= y1:
            continue
        bbox = (int(round(x1)), int(round(y1)), int(round(x2 - x1)), int(round(y2 - y1)))
        out.append(Detection(bbox, float(scores[i]), None if kps is None else kps[i].astype(np.float32)))
    return out


class ScrfdDetector:
    def __init__(self, model_path: Path, spec: DetectorSpec, threads: int | None = None,
                 input_size: tuple[int, int] | None = None):
        self.spec = spec
        self._sess = onnx_session(model_path, threads=threads)
        inp = self._sess.get_inputs()[0]
        self._input = inp.name
        outs = self._sess.get_outputs()
        self._outputs = [o.name for o in outs]
        self.layout = ScrfdLayout(len(outs), batched=len(outs[0].shape) == 3)
        if not self.layout.use_kps:
            raise PackError(f"{model_path.name}: this SCRFD graph gives no landmarks; the pack needs a *kps model",
                            code="bad_model")
        h, w = fixed_dim(inp.shape[2]), fixed_dim(inp.shape[3])
        # a fixed-shape graph dictates its input; a dynamic one takes the manifest's (or the caller's) size
        self.input_size = (w, h) if (w and h) else tuple(input_size or spec.size)

    def detect_raw(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boxes (n, 4) x1 y1 x2 y2, scores (n,), landmarks (n, 5, 2)) in image pixels, after NMS."""
        canvas, scale = letterbox(image_bgr, self.input_size)
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / self.spec.std, self.input_size, (self.spec.mean,) * 3,
                                     swapRB=self.spec.color == "rgb")
        outs = self._sess.run(self._outputs, {self._input: blob})
        scores, boxes, kps = scrfd_decode(outs, self.layout, (blob.shape[2], blob.shape[3]),
                                          self.spec.score_threshold)
        keep = nms_xyxy(boxes, scores, self.spec.score_threshold, self.spec.nms_threshold, self.spec.top_k)
        return boxes[keep] / scale, scores[keep], kps[keep] / scale

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        boxes, scores, kps = self.detect_raw(image_bgr)
        return to_detections(boxes, scores, kps, image_bgr.shape)


class OnnxEmbedder:
    """An embedding network on 5-point aligned 112x112 chips: align, normalise per InputSpec, run, L2-normalise.

    Chips are RGB uint8 (what the quality check reads); `spec.color` says what the network wants.
    """

    def __init__(self, model_path: Path, spec: InputSpec, dim: int, threads: int | None = None):
        self.spec = spec
        self._sess = onnx_session(model_path, threads=threads)
        inp = self._sess.get_inputs()[0]
        self._input = inp.name
        self._batch = fixed_dim(inp.shape[0])  # None: any batch size
        h, w = fixed_dim(inp.shape[2]), fixed_dim(inp.shape[3])
        self.size = (w, h) if (w and h) else tuple(spec.size)
        if self.size[0] != self.size[1]:
            raise PackError(f"{model_path.name}: embedder input {self.size} is not square", code="bad_model")
        out_dim = fixed_dim(self._sess.get_outputs()[0].shape[-1])
        if out_dim is not None and out_dim != dim:
            raise PackError(f"{model_path.name}: gives {out_dim}-D embeddings, the manifest says {dim}",
                            code="bad_model")
        self.dim = dim
        self._mean = np.asarray(spec.mean, dtype=np.float32).reshape(1, 3, 1, 1)
        self._std = np.asarray(spec.std, dtype=np.float32).reshape(1, 3, 1, 1)

    def align(self, image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        chip = norm_crop(image_bgr, landmarks, self.size[0])
        return cv2.cvtColor(chip, cv2.COLOR_BGR2RGB)

    def blob(self, chips: np.ndarray) -> np.ndarray:
        x = np.asarray(chips, dtype=np.float32)
        if self.spec.color == "bgr":
            x = x[..., ::-1]
        x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray((x - self._mean) / self._std, dtype=np.float32)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        chips = np.asarray(chips)
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        blob = self.blob(chips)
        step = self._batch or len(blob)
        parts = [self._sess.run(None, {self._input: blob[i:i + step]})[0] for i in range(0, len(blob), step)]
        return l2_normalise(np.concatenate(parts).reshape(len(blob), -1).astype(np.float32))


class DetectorLandmarks:
    """The detector already gives the 5 points; the engine only asks us when a detection has none."""

    scheme = "arcface5"

    def landmarks(self, image_bgr: np.ndarray, det: Detection) -> np.ndarray:
        if det.landmarks is None:
            raise FaceError("this pack's detector gives the landmarks; a detection without them cannot be "
                            "aligned", code="no_landmarks")
        return det.landmarks


def announce_licence(manifest: PackManifest) -> None:
    """Every load of a non-commercial pack says so on stderr (once per load)."""
    lic = manifest.licence
    if not lic.commercial_use:
        print(f"menwei: WARNING: pack {manifest.name} — {lic.name}: NOT FOR COMMERCIAL USE "
              f"(research use only){' — ' + lic.url if lic.url else ''}", file=sys.stderr, flush=True)


def build_runtime(manifest: PackManifest, paths: dict[str, Path], *, threads: int | None = None,
                  det_size: tuple[int, int] | None = None, score_threshold: float | None = None,
                  nms_threshold: float | None = None, **_other) -> PackRuntime:
    """The engine's entry point. Options meant for other packs (upsample=, max_side=, native=) are ignored:
    the letterbox already bounds the detector's work."""
    announce_licence(manifest)
    spec = manifest.detector_input or DetectorSpec(mean=127.5, std=128.0)
    spec = spec.with_thresholds(score_threshold, nms_threshold)
    return PackRuntime(
        name=manifest.name,
        detector=ScrfdDetector(paths["detector"], spec, threads=threads, input_size=det_size),
        landmarker=DetectorLandmarks(),
        embedder=OnnxEmbedder(paths["embedder"], manifest.input, manifest.embedding_dim, threads=threads),
        scheme="arcface5",
    )
