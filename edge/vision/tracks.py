"""Face tracks: the same face followed from frame to frame by box overlap."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

import numpy as np

from edge.vision.boxes import Box, iou


@dataclass
class Track:
    track_id: int
    bbox: Box
    first_frame: int
    last_frame: int
    hits: int = 1
    missed: int = 0
    velocity: tuple[float, float] = (0.0, 0.0)
    landmarks: np.ndarray | None = field(default=None, repr=False)

    def predicted(self) -> Box:
        x, y, w, h = self.bbox
        return (int(x + self.velocity[0]), int(y + self.velocity[1]), w, h)


class Tracker:
    def __init__(self, max_missed: int = 3, min_iou: float = 0.2):
        self.max_missed = max_missed
        self.min_iou = min_iou
        self.tracks: list[Track] = []
        self._ids = count(1)

    def update(self, boxes: list[Box], frame: int, searched: list[Box] | None = None) -> list[tuple[Track, int]]:
        """Match boxes to tracks (greedy by IoU), start new tracks, age out lost ones.

        Returns (track, box index) for every box. `searched`, when given, lists the regions that
        were actually scanned this frame: a track outside them is not counted as missed.
        """
        pairs = sorted(((iou(t.predicted(), b), ti, bi) for ti, t in enumerate(self.tracks)
                        for bi, b in enumerate(boxes)), reverse=True)
        used_t, used_b, out = set(), set(), []
        for score, ti, bi in pairs:
            if score < self.min_iou or ti in used_t or bi in used_b:
                continue
            t = self.tracks[ti]
            nb = boxes[bi]
            t.velocity = (0.5 * t.velocity[0] + 0.5 * (nb[0] - t.bbox[0]), 0.5 * t.velocity[1] + 0.5 * (nb[1] - t.bbox[1]))
            t.bbox, t.last_frame, t.missed = nb, frame, 0
            t.hits += 1
            used_t.add(ti)
            used_b.add(bi)
            out.append((t, bi))
        for ti, t in enumerate(self.tracks):
            if ti not in used_t and (searched is None or any(iou(t.predicted(), s) > 0 for s in searched)):
                t.missed += 1
        for bi, b in enumerate(boxes):
            if bi not in used_b:
                t = Track(next(self._ids), b, frame, frame)
                self.tracks.append(t)
                out.append((t, bi))
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return out
