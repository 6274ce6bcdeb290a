"""The detection stage behind one interface, so the loop is not wired to one detector.

A `Detector` turns a frame into face boxes with 5 landmarks (the pack's landmark scheme). The
default adapter wraps edge/vision's RealtimeDetector (motion gating, ROI scans around tracked
faces, HOG); another detector (e.g. a CNN that finds masked faces) only has to return the same.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge.face.engine import FaceEngine
from edge.pipeline.types import FrameDetections
from edge.vision.realtime import RealtimeConfig, RealtimeDetector


class Detector(Protocol):
    scheme: str  # landmark scheme of the detections ("dlib5", "arcface5")

    def detect(self, image_bgr: np.ndarray, index: int) -> FrameDetections: ...


class RealtimeAdapter:
    """edge/vision's loop detector as a pipeline Detector."""

    def __init__(self, engine: FaceEngine, config: RealtimeConfig | None = None):
        self.scheme = engine.runtime.landmarker.scheme
        self._rt = RealtimeDetector(engine.runtime.landmarker, config)
        self.config = self._rt.config

    def detect(self, image_bgr: np.ndarray, index: int) -> FrameDetections:
        r = self._rt.process(image_bgr, index)
        return FrameDetections([d for _, d in r.detections], list(r.regions), r.scanned)


def default_detector(engine: FaceEngine, frame_width: int) -> RealtimeAdapter:
    """The loop detector with scans at (at most) 640 px wide, as edge/vision documents."""
    return RealtimeAdapter(engine, RealtimeConfig(working_width=min(640, frame_width)))
