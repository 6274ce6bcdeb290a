"""Where in the frame something moved: frame differencing on a small grey copy.

A 160-pixel-wide grey copy, blurred, is compared with a running-average background; changed
pixels are grouped into boxes (in full-frame pixels). This costs well under a millisecond and
lets the detector skip frames and regions where nothing happens.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.vision.boxes import Box


class MotionDetector:
    def __init__(self, width: int = 160, threshold: int = 18, learn_rate: float = 0.05, min_area_frac: float = 0.002):
        self.width = width
        self.threshold = threshold
        self.learn_rate = learn_rate
        self.min_area_frac = min_area_frac
        self._bg: np.ndarray | None = None

    def update(self, grey: np.ndarray) -> list[Box]:
        """Boxes of moving regions in `grey`'s pixels; the first frame counts as all motion."""
        H, W = grey.shape[:2]
        scale = self.width / W
        small = cv2.resize(grey, (self.width, max(1, int(round(H * scale)))), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)
        if self._bg is None or self._bg.shape != small.shape:
            self._bg = small
            return [(0, 0, W, H)]
        diff = cv2.absdiff(small, self._bg)
        cv2.accumulateWeighted(small, self._bg, self.learn_rate)
        mask = (diff > self.threshold).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8), iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_area = self.min_area_frac * mask.size
        boxes = []
        for x, y, w, h, area in stats[1:n]:
            if area >= min_area:
                boxes.append((int(x / scale), int(y / scale), int(np.ceil(w / scale)), int(np.ceil(h / scale))))
        return boxes
