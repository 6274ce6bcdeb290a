"""ArcFace 5-point alignment: the similarity transform that maps detected landmarks onto the
ArcFace 112x112 template, and the warped chip.

Both InsightFace (utils/face_align.norm_crop: skimage SimilarityTransform.estimate, i.e. Umeyama's
least-squares similarity) and OpenCV (FaceRecognizerSF::alignCrop: the same Umeyama solution written
out in C++) use this template and this estimate (edge/face/geometry.py), so one implementation
serves ArcFace and SFace.
Landmark order: image-left eye, image-right eye, nose tip, image-left mouth corner, image-right one.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.face.geometry import similarity_transform

ARCFACE_DST = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def arcface_template(size: int = 112) -> np.ndarray:
    if size % 112 != 0:
        raise ValueError(f"ArcFace chips are 112 px or a multiple of it, not {size}")
    return ARCFACE_DST * (size / 112.0)


def estimate_norm(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    return similarity_transform(lm, arcface_template(size))


def norm_crop(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The aligned size x size chip (same channel order as `image`); outside the image is black."""
    m = estimate_norm(landmarks, size)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Scale `image` to fit in size=(width, height) keeping its aspect, pad right/bottom with black.

    Returns (canvas, scale); a point p of the canvas is p / scale in the image. This is how
    InsightFace feeds SCRFD (SCRFD.detect: resize to fit, paste at the top-left of a zero image).
    """
    w, h = size
    ih, iw = image.shape[:2]
    if float(ih) / iw > float(h) / w:
        new_h, new_w = h, int(h / (float(ih) / iw))
    else:
        new_w, new_h = w, int(w * (float(ih) / iw))
    scale = float(new_h) / ih
    canvas = np.zeros((h, w, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h)) if (new_w, new_h) != (iw, ih) else image
    return canvas, scale
