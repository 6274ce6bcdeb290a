"""Raw BlazeFace tensors → face boxes and keypoints, as MediaPipe decodes them.

TensorsToDetectionsCalculator (tensors_to_detections_calculator.cc, DecodeBoxes), with
reverse_output_order (x first) and fixed-size anchors:
    x_center = raw[0] / x_scale * anchor.w + anchor.x_center      (y alike, with y_scale)
    w        = raw[2] / w_scale * anchor.w                        (h alike)
    keypoint k: raw[4 + 2k] / x_scale * anchor.w + anchor.x_center (y alike)
score = sigmoid(clip(raw_score, -score_clipping_thresh, +score_clipping_thresh)), kept when
>= min_score_thresh. Then NonMaxSuppressionCalculator's WEIGHTED algorithm
(non_max_suppression_calculator.cc, WeightedNonMaxSuppression): take the best remaining detection;
every remaining one whose IoU with it is > min_suppression_threshold (the best itself included)
is merged into it, corners and keypoints averaged weighted by score, the best's score kept.
All coordinates here are normalised to the input tensor (0..1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.face.blazeface.options import BlazeOptions


@dataclass(frozen=True)
class RawDetections:
    boxes: np.ndarray  # (n, 4) xmin, ymin, xmax, ymax, normalised to the tensor
    keypoints: np.ndarray  # (n, num_keypoints, 2)
    scores: np.ndarray  # (n,)


def decode(regressors: np.ndarray, classificators: np.ndarray, anchors: np.ndarray,
           options: BlazeOptions) -> RawDetections:
    """Every anchor scoring at least min_score_thresh, decoded (before NMS)."""
    raw = np.asarray(regressors, np.float32).reshape(options.num_boxes, -1)
    logits = np.asarray(classificators, np.float64).reshape(options.num_boxes)  # exp(100) overflows float32
    clip = options.score_clipping_thresh
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -clip, clip)))
    keep = np.flatnonzero(scores >= options.min_score_thresh)
    raw, a, scores = raw[keep], anchors[keep], scores[keep]
    s = options.scale
    cx = raw[:, 0] / s * a[:, 2] + a[:, 0]
    cy = raw[:, 1] / s * a[:, 3] + a[:, 1]
    w = raw[:, 2] / s * a[:, 2]
    h = raw[:, 3] / s * a[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    k0 = options.keypoint_coord_offset
    kp = raw[:, k0 : k0 + 2 * options.num_keypoints].reshape(-1, options.num_keypoints, 2)
    kx = kp[..., 0] / s * a[:, 2:3] + a[:, 0:1]
    ky = kp[..., 1] / s * a[:, 3:4] + a[:, 1:2]
    return RawDetections(boxes, np.stack([kx, ky], axis=-1), scores.astype(np.float32))


def iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (xmin, ymin, xmax, ymax) box with each of `boxes` (MediaPipe's OverlapSimilarity)."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(det: RawDetections, threshold: float) -> RawDetections:
    """MediaPipe's WEIGHTED non-max suppression, best score first."""
    order = np.argsort(-det.scores, kind="stable")
    remaining = order
    boxes, kps, scores = [], [], []
    while remaining.size:
        best = remaining[0]
        overlap = iou_one(det.boxes[best], det.boxes[remaining])
        cluster = remaining[overlap > threshold]
        if cluster.size == 0:
            # a zero-area best box overlaps nothing, not even itself: MediaPipe keeps it as it is and
            # stops, since nothing left the remaining list
            boxes.append(det.boxes[best])
            kps.append(det.keypoints[best])
            scores.append(det.scores[best])
            break
        weights = det.scores[cluster][:, None]
        total = weights.sum()
        boxes.append((det.boxes[cluster] * weights).sum(axis=0) / total)
        kps.append((det.keypoints[cluster] * weights[:, :, None]).sum(axis=0) / total)
        scores.append(det.scores[best])
        remaining = remaining[~np.isin(remaining, cluster)]
    if not boxes:
        return RawDetections(np.zeros((0, 4), np.float32), det.keypoints[:0], det.scores[:0])
    return RawDetections(np.asarray(boxes, np.float32), np.asarray(kps, np.float32),
                         np.asarray(scores, np.float32))
