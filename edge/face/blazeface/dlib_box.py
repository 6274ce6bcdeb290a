"""BlazeFace boxes redrawn as dlib-style boxes, so dlib's 5-point shape predictor sees what it was
trained on (HOG boxes: eyebrows to chin, square).

BlazeFace's box is square and centred on the same face but larger (it reaches higher on the
forehead). Fitted by `bench/detector_bench.py --fit-box` on the enrolment photos and the
calibration stranger (10 faces both detectors found; never the test probes): median HOG/BlazeFace
side ratio 0.935 (w) and 0.945 (h), centre offsets -0.002 (x) and +0.020 (y) box sides, spread (std)
about 0.06 in ratio and 0.04 in offset. So: one square side ratio 0.94, centre 0.02 sides lower.
(With the mirrored photo pass since: 0.932 / 0.945, -0.009 / +0.017, the same within the spread.)
"""

from __future__ import annotations

import numpy as np

from edge.face.packs.base import Detection

SIDE_RATIO = 0.94
CENTRE_DY = 0.02  # box sides, downwards


def dlib_style_box(bbox: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = bbox
    side = SIDE_RATIO * max(w, h)
    cx, cy = x + w / 2.0, y + h / 2.0 + CENTRE_DY * h
    return (int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(side)), int(round(side)))


def as_dlib_style(det: Detection) -> Detection:
    return Detection(dlib_style_box(det.bbox), det.score, det.landmarks, det.keypoints)


class DlibStyleBoxes:
    """A BlazeFace detector whose boxes come out dlib-style (keypoints kept as detected)."""

    def __init__(self, detector):
        self.detector = detector

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        return [as_dlib_style(d) for d in self.detector.detect(image_bgr)]
