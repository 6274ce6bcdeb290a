"""Face quality: is this face worth embedding? Size, sharpness, pose from landmarks, exposure."""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.face.errors import FACE_BLURRED, FACE_EXPOSURE, FACE_POSE, FACE_TOO_SMALL
from edge.face.types import Face, Quality
from edge.modelpack.manifest import QualityLimits


def pose_from_landmarks(face: Face) -> tuple[float, float]:
    """(yaw, roll in degrees). Yaw: the nose's offset from the eye midline along the eye line,
    in units of the eye distance — about 0 frontal, ±0.5 near profile."""
    left, right = face.eye_centres()
    d = right - left
    dist = float(np.hypot(*d)) or 1.0
    roll = math.degrees(math.atan2(float(d[1]), float(d[0])))
    mid = (left + right) / 2
    yaw = float(np.dot(face.nose() - mid, d / dist) / dist)
    return yaw, roll


def measure(face: Face, chip: np.ndarray, limits: QualityLimits) -> Quality:
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY) if chip.ndim == 3 else chip
    # central region only: the chip's padding holds background and hair, not the face's detail
    h, w = grey.shape
    core = grey[h // 5 : h - h // 10, w // 5 : w - w // 5]
    sharpness = float(cv2.Laplacian(core, cv2.CV_64F).var())
    brightness = float(core.mean())
    face_px = float(min(face.bbox[2], face.bbox[3]))
    yaw, roll = pose_from_landmarks(face)
    problems = []
    if face_px < limits.min_face_px:
        problems.append(FACE_TOO_SMALL)
    if sharpness < limits.min_sharpness:
        problems.append(FACE_BLURRED)
    if abs(yaw) > limits.max_yaw or abs(roll) > limits.max_roll_deg:
        problems.append(FACE_POSE)
    if not limits.min_brightness <= brightness <= limits.max_brightness:
        problems.append(FACE_EXPOSURE)
    return Quality(face_px, sharpness, yaw, roll, brightness, tuple(problems))
