"""Anchors and decoding after MediaPipe's calculators, against values worked out by hand from the
options of face_detection_short_range.pbtxt / face_detection_full_range.pbtxt (edge/face/blazeface/options.py)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.face.blazeface.anchors import ssd_anchors
from edge.face.blazeface.decode import RawDetections, decode, weighted_nms
from edge.face.blazeface.options import FULL_RANGE, SHORT_RANGE


def test_full_range_anchors_are_one_per_cell_of_a_48_grid():
    a = ssd_anchors(FULL_RANGE)  # stride 4 on 192 px: 48 x 48 cells, no interpolated anchor
    assert a.shape == (2304, 4)
    assert a[0].tolist() == pytest.approx([0.5 / 48, 0.5 / 48, 1.0, 1.0])
    assert a[1].tolist() == pytest.approx([1.5 / 48, 0.5 / 48, 1.0, 1.0])  # x runs fastest
    assert a[48].tolist() == pytest.approx([0.5 / 48, 1.5 / 48, 1.0, 1.0])
    assert a[-1].tolist() == pytest.approx([47.5 / 48, 47.5 / 48, 1.0, 1.0])


def test_short_range_anchors_two_per_cell_at_stride_8_then_six_at_16():
    a = ssd_anchors(SHORT_RANGE)
    # stride 8: 16 x 16 cells x (1 aspect ratio + 1 interpolated) = 512; strides 16,16,16 share an
    # 8 x 8 map: 3 layers x 2 = 6 per cell = 384; 896 in all, MediaPipe's num_boxes
    assert a.shape == (896, 4)
    assert (a[0] == a[1]).all() and a[0].tolist() == pytest.approx([1 / 32, 1 / 32, 1, 1])
    assert a[2].tolist() == pytest.approx([3 / 32, 1 / 32, 1, 1])
    assert a[512].tolist() == pytest.approx([1 / 16, 1 / 16, 1, 1])
    assert (a[512:518] == a[512]).all() and a[518].tolist() == pytest.approx([3 / 16, 1 / 16, 1, 1])


def _raw(n, rows):
    reg = np.zeros((1, n, 16), np.float32)
    cls = np.full((1, n, 1), -20.0, np.float32)
    for i, (logit, values) in rows.items():
        cls[0, i, 0] = logit
        reg[0, i, : len(values)] = values
    return reg, cls


def test_decode_one_box_and_its_keypoints():
    anchors = ssd_anchors(FULL_RANGE)
    i = 48 * 24 + 24  # the anchor at cell (24, 24): centre (24.5 / 48, 24.5 / 48)
    # x, y offsets of +9.6 and -19.2 px (of 192), w 48 px, h 57.6 px; right eye at (-19.2, -9.6) px
    reg, cls = _raw(2304, {i: (2.0, [9.6, -19.2, 48.0, 57.6, -19.2, -9.6])})
    det = decode(reg, cls, anchors, FULL_RANGE)
    assert len(det.scores) == 1
    assert det.scores[0] == pytest.approx(1 / (1 + np.exp(-2.0)))  # sigmoid(2) = 0.8808
    cx, cy = 24.5 / 48 + 0.05, 24.5 / 48 - 0.1
    assert det.boxes[0].tolist() == pytest.approx([cx - 0.125, cy - 0.15, cx + 0.125, cy + 0.15], abs=1e-6)
    assert det.keypoints[0, 0].tolist() == pytest.approx([24.5 / 48 - 0.1, 24.5 / 48 - 0.05], abs=1e-6)


def test_scores_below_the_threshold_and_clipped_logits():
    anchors = ssd_anchors(FULL_RANGE)
    # sigmoid(0.2) = 0.55 < 0.6 (full range's min_score_thresh); a logit of 1000 is clipped to 100
    reg, cls = _raw(2304, {10: (0.2, [0, 0, 10, 10]), 20: (1000.0, [0, 0, 10, 10])})
    det = decode(reg, cls, anchors, FULL_RANGE)
    assert det.scores.tolist() == pytest.approx([1.0])
    assert np.isfinite(det.boxes).all()


def test_weighted_nms_averages_overlapping_boxes_by_score():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    kps[0, :, 0], kps[1, :, 0] = 0.0, 1.0
    det = RawDetections(boxes, kps, np.array([0.6, 0.9, 0.7], np.float32))
    out = weighted_nms(det, 0.3)
    # best (0.9) first; box 0 overlaps it (IoU 0.9 / 1.1 = 0.82) and merges: weights 0.9 and 0.6
    assert out.scores.tolist() == pytest.approx([0.9, 0.7])
    assert out.boxes[0].tolist() == pytest.approx([0.06, 0.0, 1.06, 1.0], abs=1e-6)
    assert out.keypoints[0, 0, 0] == pytest.approx(0.6)  # (0.9 * 1 + 0.6 * 0) / 1.5
    assert out.boxes[1].tolist() == pytest.approx([3.0, 3.0, 4.0, 4.0])


def test_weighted_nms_keeps_boxes_that_barely_overlap():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.8, 0.0, 1.8, 1.0]], np.float32)  # IoU 0.2 / 1.8 = 0.11
    out = weighted_nms(RawDetections(boxes, np.zeros((2, 6, 2), np.float32), np.array([0.9, 0.8], np.float32)), 0.3)
    assert len(out.scores) == 2 and np.allclose(out.boxes, boxes)
