"""The two BlazeFace models we run, with the options MediaPipe's own graphs give them.

Cited from google-ai-edge/mediapipe, mediapipe/modules/face_detection/:
- face_detection_short_range.pbtxt: tensor 128x128, num_layers 4, strides 8,16,16,16,
  interpolated_scale_aspect_ratio 1.0, num_boxes 896, x/y/w/h_scale 128, min_score_thresh 0.5;
- face_detection_full_range.pbtxt: tensor 192x192, num_layers 1, stride 4,
  interpolated_scale_aspect_ratio 0.0, num_boxes 2304, x/y/w/h_scale 192, min_score_thresh 0.6;
- face_detection.pbtxt (shared by both): SsdAnchorsCalculator min_scale 0.1484375, max_scale 0.75,
  anchor_offset 0.5, aspect_ratios 1.0, fixed_anchor_size true; TensorsToDetectionsCalculator
  num_coords 16, box_coord_offset 0, keypoint_coord_offset 4, num_keypoints 6, sigmoid_score true,
  score_clipping_thresh 100, reverse_output_order true (x before y); NonMaxSuppressionCalculator
  min_suppression_threshold 0.3, INTERSECTION_OVER_UNION, WEIGHTED; ImageToTensorCalculator
  keep_aspect_ratio true, float range [-1, 1], BORDER_ZERO.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlazeOptions:
    name: str
    tensor_size: int  # square input, pixels
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    num_boxes: int
    scale: float  # x_scale = y_scale = w_scale = h_scale
    min_score_thresh: float
    # shared by both graphs (face_detection.pbtxt)
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset: float = 0.5
    aspect_ratios: tuple[float, ...] = (1.0,)
    fixed_anchor_size: bool = True
    num_keypoints: int = 6
    keypoint_coord_offset: int = 4
    score_clipping_thresh: float = 100.0
    min_suppression_threshold: float = 0.3


SHORT_RANGE = BlazeOptions("short_range", 128, (8, 16, 16, 16), 1.0, 896, 128.0, 0.5)
FULL_RANGE = BlazeOptions("full_range", 192, (4,), 0.0, 2304, 192.0, 0.6)

MODELS = {o.name: o for o in (SHORT_RANGE, FULL_RANGE)}

# Keypoint order of both models (MediaPipe face_detection: "right eye, left eye, nose tip, mouth
# centre, right ear tragion, left ear tragion", right/left of the person, so image-left first).
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")
