"""Quality gating and the best frames of each track.

A face is aligned (the embedder's chip) and measured with edge/face/quality.py; only faces that
pass every limit are kept, and per track only the `k` best (ranked by size, sharpness and how
frontal they are), so an uncertain identity is re-tried on a better view, not on the next frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.face.packs.base import Detection, Embedder
from edge.face.quality import measure
from edge.face.types import Face
from edge.modelpack.manifest import QualityLimits


@dataclass(eq=False)  # one sighting: compared by identity (its arrays have no single truth value)
class GoodFace:
    face: Face
    chip: np.ndarray
    frame_index: int
    rank: float
    embedded: bool = False


def rank(face: Face) -> float:
    """Bigger, sharper and more frontal is better; sharpness saturates (beyond ~200 it is noise)."""
    q = face.quality
    return q.face_px * min(1.0, q.sharpness / 200.0) * (1.0 - min(1.0, abs(q.yaw)))


class QualityGate:
    def __init__(self, embedder: Embedder, limits: QualityLimits, scheme: str):
        self.embedder = embedder
        self.limits = limits
        self.scheme = scheme

    def check(self, image_bgr: np.ndarray, det: Detection, frame_index: int) -> tuple[Face, GoodFace | None]:
        """The face with its measured quality, and a GoodFace when it passes the gate."""
        face = Face(det.bbox, det.score, det.landmarks, self.scheme)
        chip = self.embedder.align(image_bgr, det.landmarks)
        face.quality = measure(face, chip, self.limits)
        if not face.quality.ok:
            return face, None
        return face, GoodFace(face, chip, frame_index, rank(face))


class BestFrames:
    """The k best good faces of one track."""

    def __init__(self, k: int):
        self.k = k
        self.faces: list[GoodFace] = []

    def offer(self, good: GoodFace) -> bool:
        """Keep `good` if it is among the k best; True when it was kept."""
        if len(self.faces) >= self.k and good.rank <= self.faces[-1].rank:
            return False
        self.faces.append(good)
        self.faces.sort(key=lambda g: g.rank, reverse=True)
        del self.faces[self.k:]
        return any(g is good for g in self.faces)

    def best_unembedded(self) -> GoodFace | None:
        """The best kept face that has not been embedded yet (None when all were)."""
        return next((g for g in self.faces if not g.embedded), None)
