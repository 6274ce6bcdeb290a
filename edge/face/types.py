"""Data types at the face engine's boundary."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Quality:
    """Measured on the face and its aligned chip; `problems` lists the limits it failed."""

    face_px: float  # bbox side in pixels of the original image
    sharpness: float  # variance of the Laplacian on the aligned chip (grey)
    yaw: float  # nose offset from the eye midline / eye distance (0 = frontal)
    roll_deg: float  # angle of the eye line
    brightness: float  # mean grey level of the chip
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "face_px": round(self.face_px, 1),
            "sharpness": round(self.sharpness, 1),
            "yaw": round(self.yaw, 3),
            "roll_deg": round(self.roll_deg, 1),
            "brightness": round(self.brightness, 1),
            "ok": self.ok,
            "problems": list(self.problems),
        }


@dataclass
class Face:
    """One face in one image. Coordinates are in the pixels of the image given to the engine."""

    bbox: tuple[int, int, int, int]  # x, y, w, h
    score: float  # detector confidence (scale depends on the detector)
    landmarks: np.ndarray  # (5, 2) float32, in the pack's landmark scheme
    scheme: str  # "dlib5" (eye corners + nose base) or "arcface5" (eye centres, nose, mouth corners)
    quality: Quality | None = None
    embedding: np.ndarray | None = field(default=None, repr=False)  # (d,) float32, L2-normalised

    @property
    def area(self) -> int:
        return self.bbox[2] * self.bbox[3]

    def eye_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(image-left eye, image-right eye) centres."""
        p = self.landmarks
        if self.scheme == "dlib5":
            # dlib 5-point order: 0,1 = image-right eye outer/inner, 2,3 = image-left eye outer/inner, 4 = nose
            return (p[2] + p[3]) / 2, (p[0] + p[1]) / 2
        return p[0], p[1]

    def inner_canthi(self) -> tuple[np.ndarray, np.ndarray]:
        """The inner eye corners (image-left eye's, image-right eye's): the thermal screening spot."""
        p = self.landmarks
        if self.scheme == "dlib5":
            return p[3], p[1]
        # ArcFace points are eye centres: the inner corner lies ~1/4 of the eye distance towards the nose
        left, right = p[0], p[1]
        d = right - left
        return left + 0.25 * d, right - 0.25 * d

    def nose(self) -> np.ndarray:
        return self.landmarks[4] if self.scheme == "dlib5" else self.landmarks[2]

    def as_dict(self) -> dict:
        out = {
            "bbox": [int(v) for v in self.bbox],
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "quality": self.quality.as_dict() if self.quality else None,
            "score": round(float(self.score), 4),
        }
        return out
