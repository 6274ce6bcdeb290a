"""The three stages a pack provides, as small protocols the engine composes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detection:
    bbox: tuple[int, int, int, int]  # x, y, w, h in image pixels
    score: float
    landmarks: np.ndarray | None = None  # (5, 2) when the detector gives them (SCRFD, YuNet)
    # the detector's own keypoints when they are not the pack's 5 landmarks (BlazeFace's 6: eyes,
    # nose tip, mouth centre, ear tragions), e.g. to paint a mask or to check the landmarks
    keypoints: np.ndarray | None = None


class Detector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> list[Detection]: ...


class Landmarker(Protocol):
    scheme: str

    def landmarks(self, image_bgr: np.ndarray, det: Detection) -> np.ndarray: ...


class Embedder(Protocol):
    dim: int

    def align(self, image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The aligned chip (H, W, 3) uint8 in the embedder's colour order."""
        ...

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 chips → (n, dim) float32, L2-normalised."""
        ...


@dataclass
class PackRuntime:
    name: str
    detector: Detector
    landmarker: Landmarker
    embedder: Embedder
    scheme: str
