"""The detection stage behind one interface, so the loop is not wired to one detector.

A `Detector` turns a frame into face boxes with 5 landmarks (the pack's landmark scheme).
`BlazeFaceAdapter` (the default when the pack's detector is BlazeFace) runs MediaPipe's full-range
BlazeFace on the whole frame every frame and, when asked (`tile_every`), on two overlapping square
halves of it every that many frames (faces half as large); `RealtimeAdapter` wraps edge/vision's RealtimeDetector
(motion gating, ROI scans around tracked faces, HOG) for packs that detect with HOG.
bench/detector_bench.py measures both; docs/FACE.md has the figures.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge.face.engine import FaceEngine
from edge.face.packs.base import Detection
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


class BlazeFaceAdapter:
    """BlazeFace on the frame, dlib-style boxes, the pack's 5 landmarks on each box when read.

    tile_every: frames between passes over the two square halves of a wide frame (0 = never, the
    default); a 1280x720 frame shrinks 6.7x into the 192-px tensor, a 720-px half only 3.75x, so
    the tiles find faces about half as large, for two more passes. Off by default: with tiles every
    3rd frame the gate bench's detect stage took 8.2 ms per frame and decisions 113 ms (p95) from
    the first good frame, without them 5.5 ms and 88 ms (HOG's loop: 4.7 ms, 94 ms), with the same
    decisions; gate-sized masked faces are found without them (detector_bench: 14/16 in one pass).
    """

    def __init__(self, engine: FaceEngine, *, tile_every: int = 0, min_score: float | None = None):
        from edge.face.blazeface.detector import BlazeFaceDetector
        from edge.face.blazeface.tiles import drop_nested, merge

        path = engine.runtime_paths.get("detector")
        if path is None:
            raise ValueError(f"pack {engine.pack!r} has no BlazeFace detector file")
        self.scheme = engine.runtime.landmarker.scheme
        self._landmarker = engine.runtime.landmarker
        spec = engine.manifest.detector_input
        if min_score is None and spec is not None:
            min_score = spec.score_threshold
        self._blaze = BlazeFaceDetector(path, min_score=min_score)
        self._merge, self._drop_nested = merge, drop_nested
        self.tile_every = tile_every

    def faces(self, image_bgr: np.ndarray, index: int) -> list[Detection]:
        """Dlib-style boxes with BlazeFace's keypoints (no landmarks yet)."""
        from edge.face.blazeface.dlib_box import as_dlib_style

        found = list(self._blaze.detect(image_bgr))
        h, w = image_bgr.shape[:2]
        if self.tile_every and index % self.tile_every == 0 and w > h * 1.2:
            for x0 in (0, w - h):
                for d in self._blaze.detect(image_bgr[:, x0 : x0 + h]):
                    x, y, bw, bh = d.bbox
                    found.append(Detection((x + x0, y, bw, bh), d.score, None, d.keypoints + np.float32([x0, 0])))
            found = self._merge(found, self._blaze.options.min_suppression_threshold)
        # as in photos (edge/face/blazeface/tiles.py): one face, one box, whatever the passes found
        return [as_dlib_style(d) for d in self._drop_nested(found)]

    def detect(self, image_bgr: np.ndarray, index: int) -> FrameDetections:
        # landmarks on demand: the loop reads them only for faces of undecided tracks (the quality
        # stage aligns those), so a face already decided, or a frame nobody reads, costs none
        # (dlib's 5 points cost ~0.45 ms a face, a tenth of the whole stage)
        out = [LazyLandmarks(d, self._landmarks, image_bgr) for d in self.faces(image_bgr, index)]
        return FrameDetections(out, None, "full")

    def _landmarks(self, image_bgr: np.ndarray, det: Detection) -> np.ndarray:
        """The pack's landmarks on a crop around the box, not the whole frame: the landmarker's grey
        conversion of a 1280x720 frame cost 0.18 ms a face; the points are the same (the crop keeps
        half a box side around it, more than the shape predictor looks beyond its box; checked on
        every probe face by tests/pipeline/test_detector_speedpath.py)."""
        x, y, w, h = det.bbox
        H, W = image_bgr.shape[:2]
        x0, y0 = max(0, int(x - CROP_MARGIN * w)), max(0, int(y - CROP_MARGIN * h))
        x1, y1 = min(W, int(x + w + CROP_MARGIN * w) + 1), min(H, int(y + h + CROP_MARGIN * h) + 1)
        moved = Detection((x - x0, y - y0, w, h), det.score, None, det.keypoints)
        return self._landmarker.landmarks(image_bgr[y0:y1, x0:x1], moved) + np.float32([x0, y0])


CROP_MARGIN = 0.5  # box sides kept around a box for its landmarks


class LazyLandmarks(Detection):
    """A Detection whose landmarks are computed the first time they are read (then kept)."""

    def __init__(self, det: Detection, compute, image_bgr: np.ndarray):
        # Detection is frozen: its fields are set as dataclasses' own __init__ sets them
        for name, value in (("bbox", det.bbox), ("score", det.score), ("keypoints", det.keypoints),
                            ("_det", det), ("_compute", compute), ("_image", image_bgr), ("_landmarks", None)):
            object.__setattr__(self, name, value)

    @property
    def landmarks(self) -> np.ndarray:
        if self._landmarks is None:
            object.__setattr__(self, "_landmarks", self._compute(self._image, self._det))
            object.__setattr__(self, "_image", None)  # the frame is not kept alive by its detections
        return self._landmarks


def default_detector(engine: FaceEngine, frame_width: int) -> Detector:
    """BlazeFace when the pack detects with it; else the HOG loop detector with scans at (at most)
    640 px wide, as edge/vision documents."""
    if engine.manifest.detector == "blazeface" and "detector" in engine.runtime_paths:
        return BlazeFaceAdapter(engine)
    return RealtimeAdapter(engine, RealtimeConfig(working_width=min(640, frame_width)))
