"""Homography fit: round trip, reprojection error, degenerate input, outlier rejection."""

from __future__ import annotations

import numpy as np
import pytest

from edge.thermal.errors import ThermalError
from edge.thermal.registration import fit_homography, project_points


def _true_h():
    # RGB 1280x720 → thermal 160x120: scale ~0.12, a small rotation and some perspective
    a = np.deg2rad(1.2)
    return np.array([[0.123 * np.cos(a), -0.123 * np.sin(a), 3.5],
                     [0.123 * np.sin(a), 0.121 * np.cos(a), -4.0],
                     [2e-6, -1e-6, 1.0]])


def test_round_trip_exact_points():
    rng = np.random.default_rng(0)
    H = _true_h()
    rgb = rng.uniform([0, 0], [1280, 720], size=(12, 2))
    th = project_points(H, rgb)
    fit = fit_homography(rgb, th)
    np.testing.assert_allclose(fit.H, H, rtol=1e-4, atol=1e-8)
    assert fit.rms_px < 1e-4
    # and back: the inverse maps thermal points onto the RGB points
    np.testing.assert_allclose(project_points(np.linalg.inv(fit.H), th), rgb, atol=1e-4)


def test_noisy_points_report_reprojection_error():
    rng = np.random.default_rng(1)
    H = _true_h()
    rgb = rng.uniform([100, 50], [1180, 670], size=(16, 2))
    th = project_points(H, rgb) + rng.normal(0, 0.3, (16, 2))
    fit = fit_homography(rgb, th)
    assert 0.1 < fit.rms_px < 0.5
    assert fit.max_px >= fit.rms_px
    grid = np.array([[640, 360], [200, 200], [1000, 600]], float)
    # the fitted map stays within 3 sigma of the point noise inside the calibrated area
    assert np.max(np.linalg.norm(project_points(fit.H, grid) - project_points(H, grid), axis=1)) < 0.9


def test_ransac_rejects_a_wrong_pair():
    rng = np.random.default_rng(2)
    H = _true_h()
    rgb = rng.uniform([0, 0], [1280, 720], size=(10, 2))
    th = project_points(H, rgb)
    th[3] += [15, -9]  # a mis-clicked corner
    plain = fit_homography(rgb, th)
    robust = fit_homography(rgb, th, ransac_px=2.0)
    assert not robust.inliers[3] and robust.inliers.sum() == 9
    assert robust.rms_px < 1e-3 < plain.rms_px


@pytest.mark.parametrize("rgb,th,match", [
    ([[0, 0], [1, 1], [2, 2]], [[0, 0], [1, 1], [2, 2]], "at least 4"),
    ([[0, 0], [10, 10], [20, 20], [30, 30]], [[0, 0], [1, 1], [2, 2], [3, 3]], "degenerate"),
    ([[0, 0], [1, 0], [0, 1], [1, 1]], [[0, 0], [1, 0], [0, 1]], "differ"),
])
def test_bad_point_sets(rgb, th, match):
    with pytest.raises(ThermalError, match=match):
        fit_homography(rgb, th)


def test_parallax_from_targets_at_two_distances():
    from edge.thermal.config import load_profile
    from edge.thermal.registration import fit_registration
    from edge.thermal.sim import SimRig

    rig = SimRig(load_profile("p2pro"), baseline_m=(0.04, 0.01))
    rgb, th, dist = [], [], []
    for d in (0.6, 1.0, 1.5):
        r, t = rig.target_corners(distance_m=d)
        rgb.append(r)
        th.append(t)
        dist += [d] * len(r)
    fit = fit_registration(np.vstack(rgb), np.vstack(th), dist)
    assert fit.calibration_distance_m == 1.0 and fit.rms_px < 0.05
    # truth: the thermal camera's linear part applied to the baseline, in px·m
    truth = rig._thermal_affine()[:2, :2] @ np.array([0.04, 0.01])
    np.testing.assert_allclose(fit.parallax_px_m, truth, rtol=0.02)
    # a face point at 0.5 m: the plane homography alone misses by several pixels, with parallax it lands
    p_rgb = rig.to_rgb(0.05, -0.02, 0.5)
    p_th = rig.to_thermal(0.05, -0.02, 0.5)
    plane_only = project_points(fit.H, p_rgb)[0]
    corrected = plane_only + np.asarray(fit.parallax_px_m) * (1 / 0.5 - 1 / fit.calibration_distance_m)
    assert np.linalg.norm(plane_only - p_th) > 5.0
    assert np.linalg.norm(corrected - p_th) < 0.1
