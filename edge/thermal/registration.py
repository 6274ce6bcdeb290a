"""RGB → thermal registration by a per-gate homography.

Both cameras sit side by side looking at the same gate; for faces in a band of distances a plane
homography maps RGB pixels onto thermal pixels well enough (parallax is documented in
docs/THERMAL.md). It is fitted from point pairs, e.g. the corners of a heated target seen by both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.thermal.errors import ThermalError


@dataclass(frozen=True)
class HomographyFit:
    H: np.ndarray  # 3x3, RGB → thermal, H[2,2] == 1
    rms_px: float  # reprojection error in thermal pixels
    max_px: float
    errors_px: np.ndarray
    inliers: np.ndarray  # bool per pair

    def as_config(self) -> list[list[float]]:
        return [[float(f"{v:.9g}") for v in row] for row in self.H]


def fit_homography(rgb_pts, thermal_pts, ransac_px: float | None = None) -> HomographyFit:
    """Least-squares (normalised DLT, OpenCV) homography from >= 4 point pairs.

    With ``ransac_px`` set, pairs farther than that from the consensus are rejected first.
    """
    import cv2

    src = np.asarray(rgb_pts, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(thermal_pts, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape:
        raise ThermalError("calibrate: RGB and thermal point lists differ in length", code="thermal_bad_points")
    if len(src) < 4:
        raise ThermalError(f"calibrate: need at least 4 point pairs, got {len(src)}", code="thermal_bad_points")
    if not (np.all(np.isfinite(src)) and np.all(np.isfinite(dst))):
        raise ThermalError("calibrate: points must be finite numbers", code="thermal_bad_points")
    method = cv2.RANSAC if ransac_px else 0
    H, mask = cv2.findHomography(src, dst, method, ransac_px or 3.0)
    if H is None or not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-12:
        raise ThermalError("calibrate: points are degenerate (collinear or repeated); spread them over the view",
                           code="thermal_bad_points")
    H = H / H[2, 2]
    err = np.linalg.norm(project_points(H, src) - dst, axis=1)
    inl = mask.reshape(-1).astype(bool) if mask is not None else np.ones(len(src), bool)
    used = err[inl] if inl.any() else err
    return HomographyFit(H=H, rms_px=float(np.sqrt(np.mean(used**2))), max_px=float(used.max()),
                         errors_px=err, inliers=inl)


def project_points(H, pts) -> np.ndarray:
    """Map Nx2 points through a 3x3 homography."""
    p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    h = np.asarray(H, dtype=np.float64)
    x = p @ h[:, :2].T + h[:, 2]
    return x[:, :2] / x[:, 2:3]
