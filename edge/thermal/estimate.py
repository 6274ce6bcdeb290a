"""Body-temperature estimate for one face on one thermal frame.

Takes plain values (face box and inner eye corners in RGB pixels, the RGB frame size, the 3x3
RGB→thermal homography, a decoded ThermalFrame) so the face engine and the thermal part stay
independent. Every step that cannot be trusted yields status "unavailable" with a flag saying
why, never a number. The model and its defaults are in docs/THERMAL.md.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.thermal.config import SensorProfile, ThermalConfig
from edge.thermal.errors import ThermalError
from edge.thermal.frame import ThermalFrame
from menwei.wire import Temperature, TemperatureStatus

KELVIN = 273.15
CLINICAL_NOTE = ("Screening reading from a commodity thermal sensor: a fever alarm needs a clinical "
                 "re-check with a calibrated thermometer before any decision about the person.")
# Skin the camera could plausibly see on a living, uncovered face; outside it the region is
# something else (a mask, glasses, a photo, a hot drink) and the number would be wrong.
SKIN_RANGE_C = (28.0, 42.0)


class ThermalReading(BaseModel):
    model_config = ConfigDict(frozen=True)

    celsius: float | None
    status: TemperatureStatus
    method: str | None = None  # "inner_canthus" | "face_p95"
    raw_max_c: float | None = None  # hottest apparent pixel on the face region, uncorrected
    skin_c: float | None = None  # the measured region after emissivity and blackbody correction
    ambient_c: float | None = None
    distance_m: float | None = None
    threshold_c: float
    flags: list[str] = Field(default_factory=list)
    note: str = CLINICAL_NOTE

    def to_wire(self) -> Temperature:
        celsius = None if self.celsius is None else round(self.celsius, 2)
        return Temperature(celsius=celsius, status=self.status, method=self.method)


class PolicyOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    deny: bool
    alert: bool
    reasons: list[str]
    note: str = CLINICAL_NOTE


def apply_policy(reading: ThermalReading, cfg: ThermalConfig) -> PolicyOutcome:
    """Hard: a fever denies entry and alerts. Soft: a fever is logged and alerts, the door obeys
    the face decision. Unavailable never denies unless the gate says so."""
    if reading.status == TemperatureStatus.FEVER:
        return PolicyOutcome(deny=cfg.policy == "hard", alert=True,
                             reasons=[f"fever_{cfg.policy}", "clinical_recheck_required"])
    if reading.status == TemperatureStatus.UNAVAILABLE:
        return PolicyOutcome(deny=cfg.deny_when_unavailable, alert=False, reasons=["temperature_unavailable"])
    return PolicyOutcome(deny=False, alert=False, reasons=[])


def emissivity_correct(apparent_c, emissivity: float, reflected_c: float):
    """Apparent (emissivity-1) temperature → true surface temperature, grey-body T^4 model:
    W(T_app) = ε·W(T) + (1 − ε)·W(T_refl), with the surroundings as the reflected source."""
    if emissivity >= 1.0:
        return apparent_c
    ta4 = (np.asarray(apparent_c, dtype=np.float64) + KELVIN) ** 4
    tr4 = (reflected_c + KELVIN) ** 4
    return np.power(np.maximum((ta4 - (1 - emissivity) * tr4) / emissivity, 0.0), 0.25) - KELVIN


def apparent_from_true(true_c, emissivity: float, reflected_c: float):
    """The inverse of emissivity_correct (what a camera set to emissivity 1 sees)."""
    t4 = (np.asarray(true_c, dtype=np.float64) + KELVIN) ** 4
    tr4 = (reflected_c + KELVIN) ** 4
    return np.power(emissivity * t4 + (1 - emissivity) * tr4, 0.25) - KELVIN


def estimate_distance_m(bbox_w_px: float, rgb_width: int, cfg: ThermalConfig) -> float:
    """Pinhole distance from the face width in the RGB frame (focal length from the RGB HFOV)."""
    f_px = (rgb_width / 2) / math.tan(math.radians(cfg.rgb_hfov_deg) / 2)
    return f_px * cfg.face_width_m / max(bbox_w_px, 1e-6)


def thermal_face_box(face_bbox, inner_canthi, rgb_size: tuple[int, int], homography, cfg: ThermalConfig):
    """The RGB face box and inner canthi mapped onto the thermal frame the way `estimate` maps them
    (homography + the baseline's parallax at the distance the face width implies): the box as
    (x, y, w, h) thermal pixels around the projected corners, the canthi as two (x, y) or None."""
    H = np.asarray(homography, dtype=np.float64)
    x, y, w, h = (float(v) for v in face_bbox)
    if not (math.isfinite(x + y + w + h) and w > 0 and h > 0):
        raise ThermalError(f"face box must be finite with positive size, got {face_bbox}", code="thermal_bad_input")
    distance = estimate_distance_m(w, rgb_size[0], cfg)
    shift = np.asarray(cfg.parallax_px_m) * (1.0 / distance - 1.0 / cfg.calibration_distance_m)
    q = _project(H, np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]), shift)
    lo, hi = q.min(axis=0), q.max(axis=0)
    canthi = None
    if inner_canthi is not None and np.all(np.isfinite(np.asarray(inner_canthi, dtype=np.float64))):
        pts = _project(H, np.asarray(inner_canthi, dtype=np.float64).reshape(2, 2), shift)
        canthi = tuple((float(px), float(py)) for px, py in pts)
    return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])), canthi


def _project(H: np.ndarray, pts: np.ndarray, shift=(0.0, 0.0)) -> np.ndarray:
    x = pts @ H[:, :2].T + H[:, 2]
    return x[:, :2] / x[:, 2:3] + np.asarray(shift)


def _unavailable(cfg: ThermalConfig, flags: list[str], **kw) -> ThermalReading:
    return ThermalReading(celsius=None, status=TemperatureStatus.UNAVAILABLE, threshold_c=cfg.threshold_c,
                          flags=flags, **kw)


def _ambient(frame: ThermalFrame, cfg: ThermalConfig, profile: SensorProfile) -> tuple[float, str]:
    comp = cfg.compensation
    if comp.ambient_source == "fixed":
        return float(comp.ambient_fixed_c), "ambient_fixed"  # type: ignore[arg-type]
    if comp.ambient_source == "sensor" and frame.state.fpa_c is not None and profile.fpa_minus_ambient_c is not None:
        return frame.state.fpa_c - profile.fpa_minus_ambient_c, "ambient_sensor"
    return background_ambient(frame.celsius), "ambient_background"


def frame_ambient(frame: ThermalFrame, cfg: ThermalConfig, profile: SensorProfile) -> float:
    """The room temperature the estimate uses for this frame (the gate's ambient_source)."""
    return _ambient(frame, cfg, profile)[0]


def background_ambient(img: np.ndarray) -> float:
    """The room's apparent temperature: the median of the frame's top and side border bands (walls,
    floor and sky of the gate; the person stands in the middle)."""
    h, w = img.shape
    bh, bw = max(1, h // 8), max(1, w // 8)
    band = np.concatenate([img[:bh, ::2].ravel(), img[:, :bw:2].ravel(), img[:, w - bw::2].ravel()])
    return float(np.median(band))


def estimate(
    face_bbox: tuple[float, float, float, float],
    inner_canthi: tuple[tuple[float, float], tuple[float, float]] | None,
    rgb_size: tuple[int, int],
    homography,
    frame: ThermalFrame | None,
    cfg: ThermalConfig,
    profile: SensorProfile,
) -> ThermalReading:
    """Estimate core temperature for one face. ``rgb_size`` is (width, height)."""
    if frame is None:
        return _unavailable(cfg, ["sensor_unavailable"])
    if not frame.usable:
        return _unavailable(cfg, ["frame_not_usable", *frame.flags])
    flags: list[str] = []
    H = np.asarray(homography, dtype=np.float64)
    img = frame.celsius
    th, tw = img.shape
    x, y, w, h = (float(v) for v in face_bbox)
    if not (math.isfinite(x + y + w + h) and w > 0 and h > 0):
        raise ThermalError(f"estimate: face box must be finite with positive size, got {face_bbox}",
                           code="thermal_bad_input")
    if inner_canthi is not None and not np.all(np.isfinite(np.asarray(inner_canthi, dtype=np.float64))):
        inner_canthi = None  # a landmark detector that lost the eyes: fall back, do not guess
        flags.append("eye_landmarks_invalid")
    distance = estimate_distance_m(w, rgb_size[0], cfg)
    # parallax of the camera baseline: the homography is exact at the calibration distance only
    shift = np.asarray(cfg.parallax_px_m) * (1.0 / distance - 1.0 / cfg.calibration_distance_m)

    # face region on the thermal frame: the projected box, shrunk 10 % so hair/background edges
    # (which mixed pixels smear inward) stay out of the percentile
    corners = np.array([[x + 0.1 * w, y + 0.1 * h], [x + 0.9 * w, y + 0.1 * h],
                        [x + 0.9 * w, y + 0.9 * h], [x + 0.1 * w, y + 0.9 * h]])
    q = _project(H, corners, shift)
    x0, y0 = int(max(0, math.floor(q[:, 0].min()))), int(max(0, math.floor(q[:, 1].min())))
    x1, y1 = int(min(tw, math.ceil(q[:, 0].max()))), int(min(th, math.ceil(q[:, 1].max())))
    if x1 <= x0 or y1 <= y0:
        return _unavailable(cfg, ["face_outside_thermal_view"], distance_m=distance)
    import cv2

    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.rint(q - [x0, y0]).astype(np.int32), 1)
    face_px = img[y0:y1, x0:x1][mask.astype(bool)]
    if face_px.size == 0:
        return _unavailable(cfg, ["face_outside_thermal_view"], distance_m=distance)
    raw_max = float(face_px.max())

    ambient, amb_flag = _ambient(frame, cfg, profile)
    flags.append(amb_flag)
    common = dict(raw_max_c=round(raw_max, 3), ambient_c=round(ambient, 2), distance_m=round(distance, 3))
    lo, hi = cfg.ambient_range_c
    if not lo <= ambient <= hi:
        return _unavailable(cfg, [*flags, "ambient_out_of_range"], **common)
    if distance > cfg.max_distance_m:
        return _unavailable(cfg, [*flags, "too_far"], **common)

    # blackbody reference: per-frame drift correction on the apparent temperatures
    drift = 0.0
    if cfg.blackbody is not None:
        bx, by, bw, bh = cfg.blackbody.region
        ref = img[by:by + bh, bx:bx + bw]
        if ref.size == 0:
            return _unavailable(cfg, [*flags, "blackbody_outside_frame"], **common)
        expected = float(apparent_from_true(cfg.blackbody.temperature_c, cfg.blackbody.emissivity, ambient))
        drift = expected - float(np.median(ref))
        if abs(drift) > cfg.blackbody.max_correction_c:
            return _unavailable(cfg, [*flags, "blackbody_implausible"], **common)
        flags.append("blackbody_corrected")

    method = None
    value = None
    if inner_canthi is not None:
        pts = _project(H, np.asarray(inner_canthi, dtype=np.float64).reshape(2, 2), shift)
        icd = float(np.linalg.norm(pts[0] - pts[1]))
        if icd >= cfg.min_canthus_icd_px:
            r = max(1, int(round(0.3 * icd)))
            vals = []
            for cx, cy in pts:
                ix, iy = int(round(cx)), int(round(cy))
                roi = img[max(0, iy - r):min(th, iy + r + 1), max(0, ix - r):min(tw, ix + r + 1)]
                vals.append(roi.ravel())
            roi_px = np.concatenate(vals)
            if roi_px.size >= cfg.min_canthus_pixels and face_px.size >= 4:
                value = _canthus_peak(roi_px, float(np.median(face_px)), distance, frame, cfg, profile)
                method = "inner_canthus"
            else:
                flags.append("canthus_region_too_small")
        else:
            flags.append("canthus_too_few_pixels")
    else:
        flags.append("no_eye_landmarks")
    if method is None:
        if face_px.size < cfg.min_face_pixels:
            return _unavailable(cfg, [*flags, "too_far"], **common)
        value = float(np.percentile(face_px, 95))
        method = "face_p95"

    emissivity = cfg.emissivity if cfg.emissivity is not None else profile.emissivity
    skin = float(emissivity_correct(value + drift, emissivity, ambient))
    if not SKIN_RANGE_C[0] <= skin <= SKIN_RANGE_C[1]:
        return _unavailable(cfg, [*flags, "implausible_skin_temperature", f"method_{method}"], **common)

    comp = cfg.compensation
    if method == "inner_canthus":
        core = skin + comp.canthus_offset_c + comp.ambient_coeff_canthus * (comp.ambient_ref_c - ambient)
    else:
        core = skin + comp.face_offset_c + comp.ambient_coeff_face * (comp.ambient_ref_c - ambient)
    k_dist = comp.distance_coeff_c_per_m if comp.distance_coeff_c_per_m is not None else profile.distance_coeff_c_per_m
    core += k_dist * (distance - comp.distance_ref_m) + cfg.offset_c
    status = TemperatureStatus.FEVER if core >= cfg.threshold_c else TemperatureStatus.NORMAL
    return ThermalReading(celsius=round(core, 3), status=status, method=method, skin_c=round(skin, 3),
                          threshold_c=cfg.threshold_c, flags=flags, **common)


def _order_stat_bias(n: int, k: int) -> float:
    """Expected mean of the k largest of n standard-normal draws (Blom's approximation)."""
    nd = NormalDist()
    return sum(nd.inv_cdf((n - i + 1 - 0.375) / (n + 0.25)) for i in range(1, k + 1)) / k


def _canthus_peak(roi_px: np.ndarray, skin_level: float, distance: float, frame: ThermalFrame,
                  cfg: ThermalConfig, profile: SensorProfile) -> float:
    """The canthus hot spot's peak apparent temperature, corrected for the two ways a sensor
    under-/over-reads a small hot spot (docs/THERMAL.md, "Spot-size correction"):

    * noise: the mean of the 3 hottest ROI pixels is biased up by the noise's order statistics;
      the expected bias (NETD x Blom's order-statistic mean) is removed;
    * size of source: a pixel (plus lens blur) of footprint p on the face averages the spot
      (Gaussian, sigma s) with cooler skin; its contrast over the skin shrinks by
      c = s^2 / (s^2 + p^2/12 + (psf·p)^2), which is undone. p follows from the distance estimate.
    """
    k = min(3, roi_px.size)
    top = float(np.mean(np.partition(roi_px, -k)[-k:]))
    top -= profile.netd_c * _order_stat_bias(int(roi_px.size), k)
    w = frame.width
    pixel_mm = 1000.0 * distance * 2 * math.tan(math.radians(profile.hfov_deg) / 2) / w
    sigma = cfg.compensation.canthus_spot_sigma_mm
    var = pixel_mm**2 / 12 + (profile.psf_sigma_px * pixel_mm) ** 2
    c = sigma**2 / (sigma**2 + var)
    return skin_level + (top - skin_level) / c
