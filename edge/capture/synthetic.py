"""A synthetic gate scene: real face photographs walking up to the camera over a noisy background.

Used by `make demo`, the benchmarks and the tests when no camera is attached. Each visitor is a
head-and-shoulders crop of a real photograph that appears small (far away), grows as it
approaches, then leaves; between visitors the gate is empty. Sensor noise is added to every
frame so motion detection meets what a real camera gives it. Ground-truth face boxes come with
each frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge.capture.source import Frame


@dataclass(frozen=True)
class Visitor:
    portrait: np.ndarray  # BGR head-and-shoulders crop
    face_box: tuple[int, int, int, int]  # the face inside the portrait (x, y, w, h)
    name: str = ""


@dataclass(frozen=True)
class SyntheticFrame:
    index: int
    timestamp: float  # seconds since the start of the scene
    image: np.ndarray  # BGR
    faces: list[tuple[int, int, int, int]] = field(default_factory=list)  # ground truth (x, y, w, h)
    names: list[str] = field(default_factory=list)


def portrait_from_photo(photo: np.ndarray, face_box: tuple[int, int, int, int], name: str = "") -> Visitor:
    """Cut a head-and-shoulders region (about 3 face widths wide) around a detected face."""
    x, y, w, h = face_box
    H, W = photo.shape[:2]
    x0, y0 = max(0, x - w), max(0, y - int(0.8 * h))
    x1, y1 = min(W, x + 2 * w), min(H, y + int(2.2 * h))
    crop = photo[y0:y1, x0:x1].copy()
    return Visitor(crop, (x - x0, y - y0, w, h), name)


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A plain gate scene: a wall gradient, a door frame and a floor."""
    ramp = np.linspace(90, 150, width, dtype=np.float32)[None, :, None]
    bg = np.repeat(np.repeat(ramp, height, 0), 3, 2) * np.array([1.0, 0.95, 0.85], np.float32)
    bg[int(height * 0.78) :] *= 0.6
    cv2.rectangle(bg, (int(width * 0.3), int(height * 0.05)), (int(width * 0.7), int(height * 0.78)),
                  (60, 60, 70), thickness=max(4, width // 120))
    bg += rng.normal(0, 3, bg.shape).astype(np.float32)  # fixed texture
    return np.clip(bg, 0, 255).astype(np.uint8)


class WalkupScene:
    """Frames of visitors walking up one after another, at `fps`, `width`x`height`."""

    def __init__(self, visitors: Sequence[Visitor], *, width: int = 1280, height: int = 720, fps: float = 25.0,
                 approach_s: float = 3.0, gap_s: float = 1.5, face_px: tuple[int, int] = (70, 260),
                 noise: float = 2.0, seed: int = 0):
        if not visitors:
            raise ValueError("a walk-up scene needs at least one visitor")
        self.visitors = list(visitors)
        self.width, self.height, self.fps = width, height, fps
        self.approach = max(2, int(approach_s * fps))
        self.gap = int(gap_s * fps)
        self.face_px = face_px
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.background = _background(width, height, self.rng)

    def __len__(self) -> int:
        return len(self.visitors) * (self.gap + self.approach)

    def frames(self, loops: int = 1) -> Iterator[SyntheticFrame]:
        index = 0
        for _ in range(loops):
            for k, visitor in enumerate(self.visitors):
                for i in range(self.gap + self.approach):
                    frame = self.background.copy()
                    faces, names = [], []
                    if i >= self.gap:
                        t = (i - self.gap) / (self.approach - 1)
                        faces.append(self._paste(frame, visitor, t, k))
                        names.append(visitor.name)
                    if self.noise:
                        n = self.rng.normal(0, self.noise, frame.shape).astype(np.int16)
                        frame = np.clip(frame.astype(np.int16) + n, 0, 255).astype(np.uint8)
                    yield SyntheticFrame(index, index / self.fps, frame, faces, names)
                    index += 1

    def _paste(self, frame: np.ndarray, v: Visitor, t: float, k: int) -> tuple[int, int, int, int]:
        """Place the visitor so its face is `size` pixels wide, walking towards the centre."""
        size = self.face_px[0] + (self.face_px[1] - self.face_px[0]) * t
        scale = size / v.face_box[2]
        ph, pw = v.portrait.shape[:2]
        img = cv2.resize(v.portrait, (max(1, int(pw * scale)), max(1, int(ph * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        fx, fy, fw, fh = (int(round(c * scale)) for c in v.face_box)
        side = -1 if k % 2 else 1  # alternate the side visitors come from
        cx = self.width / 2 + side * (1 - t) * self.width * 0.25
        cy = self.height * (0.42 - 0.08 * t)
        x0, y0 = int(cx - fx - fw / 2), int(cy - fy - fh / 2)
        h, w = img.shape[:2]
        X0, Y0, X1, Y1 = max(0, x0), max(0, y0), min(self.width, x0 + w), min(self.height, y0 + h)
        if X1 > X0 and Y1 > Y0:
            frame[Y0:Y1, X0:X1] = img[Y0 - y0 : Y1 - y0, X0 - x0 : X1 - x0]
        return (x0 + fx, y0 + fy, fw, fh)


def default_visitors(photos: Sequence[tuple[str, np.ndarray]], detector) -> list[Visitor]:
    """Visitors from (name, photo) pairs, using a detector for the face position (largest face)."""
    out = []
    for name, photo in photos:
        dets = sorted(detector.detect(photo), key=lambda d: d.bbox[2] * d.bbox[3], reverse=True)
        if dets:
            out.append(portrait_from_photo(photo, dets[0].bbox, name))
    return out


# ---- scenes with independent ground truth (the contract of docs/PIPELINE; replaces the above)
@dataclass(frozen=True)
class Walker:
    photo: Path | np.ndarray  # a real test photograph
    label: str  # who it is (folder name in the gallery, or "unknown-...")
    enter_s: float  # when the walker appears
    duration_s: float  # how long until it leaves
    distance: Literal["near", "far"] = "near"  # far: the face stays small (about 2 m)
    still: bool = False  # stands still in front of the camera instead of walking up
    core_temperature_c: float = 36.8  # for the thermal simulator (fever: e.g. 38.6)


@dataclass(frozen=True)
class TruthFace:
    label: str
    box: tuple[int, int, int, int]  # (x, y, w, h) in the frame, from hand-checked boxes of the photo
    core_temperature_c: float


@dataclass(frozen=True)
class SceneFrame:
    frame: Frame
    faces: list[TruthFace]


class Scene:
    def __init__(self, walkers: Sequence[Walker], *, width: int = 1280, height: int = 720, fps: float = 25.0,
                 seed: int = 0):
        raise NotImplementedError

    def __iter__(self) -> Iterator[SceneFrame]:
        raise NotImplementedError

    def write_video(self, path: Path) -> Path:
        raise NotImplementedError

    def truth(self) -> list[list[TruthFace]]:
        raise NotImplementedError

    def save_truth(self, path: Path) -> None:
        raise NotImplementedError


def named_scene(name: str, faces_dir: Path, **kw) -> Scene:
    raise NotImplementedError
