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


@dataclass(frozen=True)
class RegistrationFit:
    """Homography at ``calibration_distance_m`` plus the parallax of the camera baseline:
    a point at depth d lands ``parallax_px_m * (1/d - 1/d_cal)`` thermal pixels off the plane
    homography (parallax_px_m = thermal focal length x baseline, in px·m)."""

    H: np.ndarray
    calibration_distance_m: float
    parallax_px_m: tuple[float, float]
    rms_px: float
    max_px: float
    errors_px: np.ndarray
    inliers: np.ndarray

    def as_config(self) -> dict:
        return {"homography": [[float(f"{v:.9g}") for v in row] for row in self.H],
                "calibration_distance_m": round(self.calibration_distance_m, 4),
                "parallax_px_m": [round(float(v), 4) for v in self.parallax_px_m]}


def fit_registration(rgb_pts, thermal_pts, distances_m=None, ransac_px: float | None = None) -> RegistrationFit:
    """Fit the homography and, when the pairs were taken at two or more target distances, the
    parallax vector. Alternates: homography on parallax-free points, parallax by least squares
    on the residuals against (1/d - 1/d_cal)."""
    src = np.asarray(rgb_pts, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(thermal_pts, dtype=np.float64).reshape(-1, 2)
    if distances_m is None or len(set(np.round(np.asarray(distances_m, float), 3))) < 2:
        fit = fit_homography(src, dst, ransac_px)
        d_cal = float(np.median(distances_m)) if distances_m is not None else 1.0
        return RegistrationFit(fit.H, d_cal, (0.0, 0.0), fit.rms_px, fit.max_px, fit.errors_px, fit.inliers)
    d = np.asarray(distances_m, dtype=np.float64).reshape(-1)
    if d.shape[0] != src.shape[0] or np.any(d <= 0):
        raise ThermalError("calibrate: one positive distance per point pair is needed", code="thermal_bad_points")
    d_cal = float(np.median(d))
    u = 1.0 / d - 1.0 / d_cal
    par = np.zeros(2)
    for _ in range(5):
        fit = fit_homography(src, dst - np.outer(u, par), ransac_px)
        resid = dst - project_points(fit.H, src)
        par = (u @ resid) / max(float(u @ u), 1e-12)
    fit = fit_homography(src, dst - np.outer(u, par), ransac_px)
    return RegistrationFit(fit.H, d_cal, (float(par[0]), float(par[1])), fit.rms_px, fit.max_px,
                           fit.errors_px, fit.inliers)


def project_points(H, pts) -> np.ndarray:
    """Map Nx2 points through a 3x3 homography."""
    p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    h = np.asarray(H, dtype=np.float64)
    x = p @ h[:, :2].T + h[:, 2]
    return x[:, :2] / x[:, 2:3]
