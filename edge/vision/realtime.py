"""The gate loop's face detector: full-frame work only where something moves, cheap scans around tracks.

Per frame (1280x720 in, say):
1. a grey copy; motion boxes from a 160-px-wide difference image (< 1 ms);
2. for every face track, the pack's detector on a small crop around the predicted box, resized
   so the face is about `roi_face_px` wide (HOG needs >= 80 px) — a few ms per face;
3. at most every `scan_every` frames, and only where motion is not already explained by a track,
   a scan of the working-scale frame (default 640 px wide); a full scan every `rescan_every`
   frames also finds people standing still;
4. 5-point landmarks on the full-resolution frame for each face found.

The smallest face a scan finds is about `min_face_px` (HOG's 80-px window / working scale, halved per
`upsample`): 160 px at 1280x720 with the defaults, about 1 m from a 60-degree camera; range mode
(`upsample: 1`) finds 80-px faces (about 2 m) for four times the scan cost. Once a face is
tracked, ROI scans follow it at any size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.face.packs.base import Detection
from edge.face.packs.dlib_resnet import HogDetector, to_grey
from edge.vision.boxes import Box, iou
from edge.vision.motion import MotionDetector
from edge.vision.tracks import Track, Tracker

HOG_WINDOW_PX = 80


class RealtimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    working_width: int = Field(640, ge=160, le=3840, description="width of the frame that scans look at")
    upsample: int = Field(0, ge=0, le=2, description="range mode: each step halves the smallest face found")
    roi_face_px: int = Field(96, ge=80, le=200, description="tracked faces are rescaled to about this width")
    roi_margin: float = Field(0.6, ge=0.1, le=2.0, description="search margin around a track, in face widths")
    scan_every: int = Field(3, ge=1, description="frames between scans of unexplained motion")
    rescan_every: int = Field(50, ge=1, description="frames between full scans (finds people standing still)")
    max_missed: int = Field(3, ge=0, description="ROI scans a track may miss before it is dropped")
    motion_width: int = Field(160, ge=64)
    motion_threshold: int = Field(18, ge=1, le=255)

    def min_face_px(self, frame_width: int) -> float:
        scale = min(1.0, self.working_width / frame_width)
        return HOG_WINDOW_PX / scale / (2**self.upsample)


@dataclass
class FrameFaces:
    index: int
    detections: list[tuple[Track, Detection]]  # tracks updated this frame, with bbox + landmarks
    ms: float  # time spent in this frame
    scanned: str  # "idle", "roi", "motion" or "full"
    regions: list[Box] = field(default_factory=list)


def _expand(box: Box, margin: float, W: int, H: int) -> Box:
    x, y, w, h = box
    m = int(margin * max(w, h))
    x0, y0 = max(0, x - m), max(0, y - m)
    x1, y1 = min(W, x + w + m), min(H, y + h + m)
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _union(boxes: list[Box]) -> Box:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


class RealtimeDetector:
    def __init__(self, landmarker, config: RealtimeConfig | None = None):
        self.config = config or RealtimeConfig()
        self.landmarker = landmarker
        self._roi_hog = HogDetector(upsample=0)
        self._scan_hog = HogDetector(upsample=self.config.upsample)
        self.motion = MotionDetector(self.config.motion_width, self.config.motion_threshold)
        self.tracker = Tracker(max_missed=self.config.max_missed)
        self._last_scan = -(10**9)
        self._last_full = -(10**9)

    def _detect_in(self, hog: HogDetector, grey: np.ndarray, region: Box, scale: float) -> list[Box]:
        """Run `hog` on `region` of `grey` resized by `scale`; boxes in `grey`'s pixels."""
        x, y, w, h = region
        if w < 8 or h < 8:
            return []
        crop = grey[y : y + h, x : x + w]
        if abs(scale - 1.0) > 1e-3:
            crop = cv2.resize(crop, (max(1, int(w * scale)), max(1, int(h * scale))),
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        out = []
        for d in hog.detect(crop):
            bx, by, bw, bh = d.bbox
            out.append((int(x + bx / scale), int(y + by / scale), int(bw / scale), int(bh / scale)))
        return out

    def process(self, frame_bgr: np.ndarray, index: int) -> FrameFaces:
        t0 = time.perf_counter()
        cfg = self.config
        grey = to_grey(frame_bgr)
        H, W = grey.shape
        moving = self.motion.update(grey)
        found: list[Box] = []
        searched: list[Box] = []
        mode = "idle"

        for t in self.tracker.tracks:  # follow known faces in small crops
            region = _expand(t.predicted(), cfg.roi_margin, W, H)
            scale = cfg.roi_face_px / max(1, t.bbox[2])
            found += self._detect_in(self._roi_hog, grey, region, scale)
            searched.append(region)
            mode = "roi"

        full_due = index - self._last_full >= cfg.rescan_every
        unexplained = [m for m in moving if not any(iou(m, s) > 0 and _contains(s, m) for s in searched)]
        if full_due or (unexplained and index - self._last_scan >= cfg.scan_every):
            region = (0, 0, W, H) if full_due else _expand(_union(unexplained), 0.1, W, H)
            scale = min(1.0, cfg.working_width / W)
            new = [b for b in self._detect_in(self._scan_hog, grey, region, scale)
                   if not any(iou(b, f) > 0.3 for f in found)]
            found += new
            searched.append(region)
            self._last_scan = index
            if full_due:
                self._last_full = index
            mode = "full" if full_due else "motion"

        detections = []
        for track, bi in self.tracker.update(found, index, searched):
            box = found[bi]
            det = Detection(box, 1.0)
            lm = self.landmarker.landmarks(grey, det)
            track.landmarks = lm
            detections.append((track, Detection(box, 1.0, lm)))
        return FrameFaces(index, detections, (time.perf_counter() - t0) * 1000, mode, searched)


def _contains(outer: Box, inner: Box) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and outer[0] + outer[2] >= inner[0] + inner[2]
            and outer[1] + outer[3] >= inner[1] + inner[3])
