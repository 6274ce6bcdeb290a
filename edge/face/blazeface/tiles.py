"""Photos: BlazeFace on the whole image, on the image zoomed out, and, for large images, on a 3x3
grid of overlapping square tiles.

The model misses a face that fills the whole frame (an ID-photo crop, the 112-px aligned crop of
the test photos): it was trained on faces with context around them. The zoomed-out pass puts the
image in the middle of a black canvas twice its size (1.5x suffices for that crop, 2x leaves margin).

The full-range model sees a 192-px tensor, so in a 2000-px group photo a 140-px face shrinks to
13 px and is lost; each tile (half the long side) doubles that. bench/detector_bench.py measured
tiles of 60 % (2x2), 50 % and 45 % (3x3) of the long side: 47, 50 and 49 of 64 masked faces found. Tile detections and the
whole-image ones are merged by the same weighted NMS MediaPipe runs on one tensor's detections.
A photo at most `tile_above` px on its long side is not tiled (its faces are large enough).
`flip` runs all of it again on the mirrored image: a masked face scores differently mirrored, and
bench/detector_bench.py found 56 of 64 masked probe faces with it against 51 without, no false
detection either way, for twice the time (photos only: 80-180 ms on the shared test machine,
against HOG's ~270 ms).
"""

from __future__ import annotations

import numpy as np

from edge.face.blazeface.decode import RawDetections, weighted_nms
from edge.face.blazeface.detector import BlazeFaceDetector, as_bgr
from edge.face.packs.base import Detection
from edge.vision.boxes import iou

TILE_FRACTION = 0.5
ZOOM_OUT = 2.0
# second look at weak detections and candidates (TiledBlazeFace._refined); measured by bench/detector_bench.py
CANDIDATE_SCORE = 0.2
REFINE_BELOW = 0.75
REFINE_SCALES = (2.5, 4.0)
REFINE_IOU = 0.3  # a crop's box belongs to the place looked at (0.5 measured: one masked face fewer, one duplicate)


class TiledBlazeFace:
    def __init__(self, detector: BlazeFaceDetector, tile_above: int = 800, flip: bool = True,
                 refine: bool = True, candidate_score: float = CANDIDATE_SCORE,
                 refine_below: float = REFINE_BELOW, refine_scales: tuple[float, ...] = REFINE_SCALES,
                 refine_iou: float = REFINE_IOU):
        self.detector = detector
        self.tile_above = tile_above
        self.flip = flip
        self.refine = refine
        self.candidate_score = candidate_score
        self.refine_below = refine_below
        self.refine_scales = refine_scales
        self.refine_iou = refine_iou

    def tiles(self, shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
        """(x0, y0, side) of each square tile; none for a small image."""
        h, w = shape[:2]
        if max(h, w) <= self.tile_above:
            return []
        side = int(max(h, w) * TILE_FRACTION)
        xs = sorted({0, max(0, (w - side) // 2), max(0, w - side)})
        ys = sorted({0, max(0, (h - side) // 2), max(0, h - side)})
        return [(x0, y0, side) for y0 in ys for x0 in xs]

    def _run(self, image_bgr: np.ndarray, cands: list[Detection] | None) -> list[Detection]:
        found, weak = self.detector.detect_with_candidates(image_bgr, self.candidate_score if cands is not None
                                                           else None)
        if cands is not None:
            cands.extend(weak)
        return found

    def _zoomed_out(self, image_bgr: np.ndarray, cands: list[Detection] | None) -> list[Detection]:
        h, w = image_bgr.shape[:2]
        H, W = int(h * ZOOM_OUT), int(w * ZOOM_OUT)
        y0, x0 = (H - h) // 2, (W - w) // 2
        canvas = np.zeros((H, W, 3), np.uint8)
        canvas[y0 : y0 + h, x0 : x0 + w] = image_bgr
        weak: list[Detection] | None = [] if cands is not None else None
        out = [c for d in self._run(canvas, weak) if (c := _clipped(d, x0, y0, w, h))]
        if cands is not None:
            cands.extend(c for d in weak if (c := _clipped(d, x0, y0, w, h)))
        return out

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        image_bgr = as_bgr(image_bgr)
        cands: list[Detection] | None = [] if self.refine else None
        found = self._passes(image_bgr, cands)
        if self.flip:
            w = image_bgr.shape[1]
            weak: list[Detection] | None = [] if cands is not None else None
            found += [_mirrored(d, w) for d in self._passes(np.ascontiguousarray(image_bgr[:, ::-1]), weak)]
            if cands is not None:
                cands += [_mirrored(d, w) for d in weak]
        nms = self.detector.options.min_suppression_threshold
        final = drop_nested(merge(found, nms))
        if not self.refine:
            return final
        return self._refined(image_bgr, found, cands)

    def _passes(self, image_bgr: np.ndarray, cands: list[Detection] | None = None) -> list[Detection]:
        found = self._run(image_bgr, cands) + self._zoomed_out(image_bgr, cands)
        for x0, y0, side in self.tiles(image_bgr.shape):
            weak: list[Detection] | None = [] if cands is not None else None
            found += [_moved(d, x0, y0) for d in self._run(image_bgr[y0 : y0 + side, x0 : x0 + side], weak)]
            if cands is not None:
                cands += [_moved(d, x0, y0) for d in weak]
        return found

    def _refined(self, image_bgr: np.ndarray, found: list[Detection], cands: list[Detection]) -> list[Detection]:
        """Each weak detection (score below refine_below) and each candidate (a cluster that reached
        candidate_score, not the detector's threshold) looked at again in square crops centred on
        it, refine_scales times its side, so the face is a quarter to 40 % of the tensor, where the model scores masked faces best (bench/detector_bench.py).
        What the crops find on the same place (IoU >= refine_iou) joins the passes' detections in
        the weighted NMS; a candidate nothing confirms is dropped. Every box returned reached the
        detector's own threshold in some pass: no threshold is lowered for what is returned."""
        nms = self.detector.options.min_suppression_threshold
        # the places to look again: every cluster of the passes' detections and candidates together
        # that scores below refine_below (a candidate on a detected face merges into it)
        targets = [d for d in drop_nested(merge(found + cands, nms)) if d.score < self.refine_below]
        confirmed = []
        for t in targets:
            confirmed += [d for d in self._crops(image_bgr, t) if iou(d.bbox, t.bbox) >= self.refine_iou]
        return drop_nested(merge(found + confirmed, self.detector.options.min_suppression_threshold))

    def _crops(self, image_bgr: np.ndarray, t: Detection) -> list[Detection]:
        h, w = image_bgr.shape[:2]
        x, y, bw, bh = t.bbox
        cx, cy = x + bw / 2.0, y + bh / 2.0
        out = []
        for k in self.refine_scales:
            side = max(8, int(round(k * max(bw, bh))))
            x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            crop = np.zeros((side, side, 3), np.uint8)  # black beyond the photo's edge, as the tensor's padding
            sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
            if sx1 <= sx0 or sy1 <= sy0:
                continue
            crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image_bgr[sy0:sy1, sx0:sx1]
            out += [c for d in self.detector.detect(crop) if (c := _clipped(_moved(d, x0, y0), 0, 0, w, h))]
        return out


def _moved(d: Detection, dx: int, dy: int) -> Detection:
    x, y, w, h = d.bbox
    return Detection((x + dx, y + dy, w, h), d.score, None, d.keypoints + np.float32([dx, dy]))


def _clipped(d: Detection, x0: int, y0: int, w: int, h: int) -> Detection | None:
    """d moved by (-x0, -y0) and clipped to a w x h image; None when too little is left."""
    x, y, bw, bh = d.bbox
    x1, y1 = max(0, x - x0), max(0, y - y0)
    x2, y2 = min(w, x - x0 + bw), min(h, y - y0 + bh)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return Detection((x1, y1, x2 - x1, y2 - y1), d.score, None, d.keypoints - np.float32([x0, y0]))


def _mirrored(d: Detection, w: int) -> Detection:
    x, y, bw, bh = d.bbox
    k = np.stack([w - d.keypoints[:, 0], d.keypoints[:, 1]], axis=1)
    # mirroring swaps sides: the mirror's "right eye" is the person's left; keep MediaPipe's order
    k[[0, 1]], k[[4, 5]] = k[[1, 0]], k[[5, 4]]
    return Detection((w - x - bw, y, bw, bh), d.score, None, k.astype(np.float32))


NESTED = 0.5


def drop_nested(dets: list[Detection]) -> list[Detection]:
    """Drop a detection when more than half of the smaller of it and a better-scoring one lies in
    their overlap. Passes at different scales can put a second box, offset and twice the size, on
    a turned face (the mirrored pass did on the group photo's t1-f): IoU 0.24, too low for the
    weighted NMS to merge, but one face. Two real faces never overlap that much in a photo."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        x, y, w, h = d.bbox
        nested = False
        for k in kept:
            kx, ky, kw, kh = k.bbox
            ix = max(0, min(x + w, kx + kw) - max(x, kx))
            iy = max(0, min(y + h, ky + kh) - max(y, ky))
            if ix * iy > NESTED * min(w * h, kw * kh):
                nested = True
                break
        if not nested:
            kept.append(d)
    return kept


def merge(found: list[Detection], threshold: float) -> list[Detection]:
    """Detections from several passes (image pixels) merged by MediaPipe's weighted NMS."""
    if len(found) <= 1:
        return found
    boxes = np.array([[d.bbox[0], d.bbox[1], d.bbox[0] + d.bbox[2], d.bbox[1] + d.bbox[3]] for d in found],
                     np.float32)
    merged = weighted_nms(RawDetections(boxes, np.stack([d.keypoints for d in found]),
                                        np.array([d.score for d in found], np.float32)), threshold)
    out = []
    for b, k, s in zip(merged.boxes, merged.keypoints, merged.scores, strict=True):
        bbox = (int(round(b[0])), int(round(b[1])), int(round(b[2] - b[0])), int(round(b[3] - b[1])))
        out.append(Detection(bbox, float(s), None, k))
    return out
