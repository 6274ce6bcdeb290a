"""Point-set geometry shared by the face chips: the least-squares similarity transform.

Both chip cutters need it: dlib's 150x150 chip (dlib_onnx/chip.py, dlib's
find_similarity_transform) and the ArcFace/SFace 112x112 chip (packs/align.py, what
skimage.transform.SimilarityTransform.estimate and OpenCV's FaceRecognizerSF::alignCrop compute).
All three are Umeyama's closed-form solution, so one implementation serves both.
"""

from __future__ import annotations

import numpy as np


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix [c·R | t] of the similarity (rotation, uniform scale, translation) that maps
    the points `src` onto `dst` with the least squared error.

    Umeyama (1991), "Least-squares estimation of transformation parameters between two point
    patterns", eqs. 40-42, with its reflection guard: when the covariance has a negative
    determinant (or a zero one and U·V^T is a reflection), the smallest singular direction is
    flipped so the result is a proper rotation. ValueError when all `src` points coincide.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape != dst.shape:
        raise ValueError(f"similarity_transform wants two (n, d) point sets of one shape, got {src.shape} "
                         f"and {dst.shape}")
    n, dim = src.shape
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    ds, dd = src - mu_s, dst - mu_d
    var_s = (ds**2).sum(axis=1).mean()
    if var_s == 0:
        raise ValueError("degenerate points: all source points coincide")
    cov = dd.T @ ds / n
    u, d, vt = np.linalg.svd(cov)
    s = np.ones(dim)
    det = np.linalg.det(cov)
    if det < 0 or (det == 0 and np.linalg.det(u) * np.linalg.det(vt) < 0):
        s[-1] = -1.0
    r = u @ np.diag(s) @ vt
    c = float(d @ s) / var_s
    t = mu_d - c * (r @ mu_s)
    return np.hstack([c * r, t[:, None]])
