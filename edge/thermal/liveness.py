"""Liveness from the thermal image: is the face box on this thermal frame a living face?

Pure: a decoded ThermalFrame (apparent °C), the face box in THERMAL pixels, optional inner canthi
(thermal pixels), the room temperature (or None: the frame's background) and a typed config in,
a LivenessResult out. The method and its sources are in docs/FACE.md, "Liveness":

1. warmth — the warm part of the upper face must be `warm_margin_c` above the room (a printed
   photo sits at room temperature);
2. canthus hot spot — the warmest spot of the upper face must lie in the eye band (or at the
   given canthi) and stand `canthus_contrast_c` above the upper face's median (skin is cooler
   than the periorbital region and the inner canthus is the warmest point of a face);
3. texture — the upper face must not be a flat uniform surface (a screen or a warmed tablet).

Only the upper face (forehead, eyes, upper cheeks) is looked at, so whatever covers the nose and
mouth — a mask, cooler as cloth or warmer from breath — does not count either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from edge.thermal.config import LivenessConfig
from edge.thermal.errors import ThermalConfigError, ThermalError
from edge.thermal.estimate import background_ambient
from edge.thermal.frame import ThermalFrame
from menwei.errors import fields_error

# stable reason codes (docs/FACE.md, "Liveness")
NO_FRAME = "no_frame"
FRAME_NOT_USABLE = "frame_not_usable"
FACE_OUTSIDE_FRAME = "face_outside_frame"
FACE_TOO_SMALL = "face_too_small"
WARM_MARGIN_OK = "warm_margin_ok"
NOT_WARMER_THAN_AMBIENT = "not_warmer_than_ambient"
CANTHUS_HOTSPOT = "canthus_hotspot"
NO_CANTHUS_HOTSPOT = "no_canthus_hotspot"
FACE_TEXTURE_OK = "face_texture_ok"
FLAT_UNIFORM = "flat_uniform"
__all__ = ["LivenessConfig", "LivenessResult", "assess", "load_liveness_config", "REASONS"]
REASONS = (NO_FRAME, FRAME_NOT_USABLE, FACE_OUTSIDE_FRAME, FACE_TOO_SMALL, WARM_MARGIN_OK,
           NOT_WARMER_THAN_AMBIENT, CANTHUS_HOTSPOT, NO_CANTHUS_HOTSPOT, FACE_TEXTURE_OK, FLAT_UNIFORM)


def load_liveness_config(data: dict | None) -> LivenessConfig:
    """Validate a `liveness:` section; errors name the field (`liveness.warm_margin_c: ...`)."""
    try:
        return LivenessConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ThermalConfigError(fields_error(exc, "liveness.")) from None


@dataclass(frozen=True, slots=True)
class LivenessResult:
    """live: True / False / None (unknown: cannot be judged). score in [0, 1]: the weakest check,
    each mapped so that exactly 0.5 is its threshold (live ⇔ every check ≥ 0.5). When live is None
    the score is the warmth check's alone (0.0 when nothing could be measured): not a verdict."""

    live: bool | None
    score: float
    reasons: tuple[str, ...]
    ambient_c: float | None = None
    margin_c: float | None = None  # warm upper face above the room
    contrast_c: float | None = None  # hot spot above the upper face's median
    std_c: float | None = None  # spread of the upper face

    def as_json(self) -> dict:
        return {"live": self.live, "score": round(self.score, 4), "reasons": list(self.reasons)}


def _logistic(x: float, scale: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x / scale))))


def _rows(y: float, h: float, band: tuple[float, float]) -> tuple[float, float]:
    return y + band[0] * h, y + band[1] * h


def _slice(a: float, b: float, n: int) -> slice:
    """Pixels whose centre (integer coordinate) lies in [a, b], clipped to [0, n)."""
    return slice(max(0, math.ceil(a)), min(n, math.floor(b) + 1))


def assess(frame: ThermalFrame | None, box: tuple[float, float, float, float],
           ambient_c: float | None = None, canthi=None,
           config: LivenessConfig | None = None) -> LivenessResult:
    """Liveness of the face in `box` (x, y, w, h in thermal pixels, pixel centres at integers)."""
    cfg = config or LivenessConfig()
    if frame is None:
        return LivenessResult(None, 0.0, (NO_FRAME,))
    if not frame.usable:
        return LivenessResult(None, 0.0, (FRAME_NOT_USABLE,))
    x, y, w, h = (float(v) for v in box)
    if not (math.isfinite(x + y + w + h) and w > 0 and h > 0):
        raise ThermalError(f"liveness: face box must be finite with positive size, got {box}",
                           code="thermal_bad_input")
    img = frame.celsius
    H, W = img.shape
    amb = background_ambient(img) if ambient_c is None else float(ambient_c)
    cols = _slice(x + cfg.inner_cols[0] * w, x + cfg.inner_cols[1] * w, W)
    upper = img[_slice(*_rows(y, h, cfg.upper_face), H), cols]
    if upper.size == 0:
        return LivenessResult(None, 0.0, (FACE_OUTSIDE_FRAME,), ambient_c=amb)
    if w < cfg.min_warm_px or upper.size < 4:
        return LivenessResult(None, 0.0, (FACE_TOO_SMALL,), ambient_c=amb)

    # one sort gives the percentile, the median and the maximum below (the 1 ms budget per face)
    ranked = np.sort(upper, axis=None)
    n = ranked.size

    # 1. warmth: p90, so a warm face's hair line or a cool eyebrow does not decide it
    margin = float(ranked[int(round(0.9 * (n - 1)))]) - amb
    s_warm = _logistic(margin - cfg.warm_margin_c, 0.5)
    warm = margin >= cfg.warm_margin_c
    warm_reason = WARM_MARGIN_OK if warm else NOT_WARMER_THAN_AMBIENT
    if w < cfg.min_structure_px:
        # too few pixels for a face's structure: a surface at room temperature is still not a
        # living face, but a warm one cannot be told from a warm screen
        if warm:
            return LivenessResult(None, s_warm, (FACE_TOO_SMALL, warm_reason), ambient_c=amb, margin_c=margin)
        return LivenessResult(False, s_warm, (FACE_TOO_SMALL, warm_reason), ambient_c=amb, margin_c=margin)

    # 2. canthus hot spot: mean of the two hottest pixels where the canthi are, over the median
    ref = float(ranked[n // 2]) if n % 2 else float(ranked[n // 2 - 1] + ranked[n // 2]) / 2
    if canthi is not None and np.all(np.isfinite(np.asarray(canthi, dtype=np.float64))):
        # one window over both inner canthi: they flank the nose bridge, and at a few pixels per
        # centimetre their two hot spots blur into one between them. The eye band counts too:
        # landmarks mapped through the registration can miss the spot by a pixel or two (a live
        # walker in the demo failed 2 of 3 frames so), and a flat attack has no hot spot in either
        r = max(1.0, cfg.canthus_radius * w)
        pts = np.asarray(canthi, dtype=np.float64).reshape(-1, 2)
        eye = np.concatenate([img[_slice(pts[:, 1].min() - r, pts[:, 1].max() + r, H),
                                  _slice(pts[:, 0].min() - r, pts[:, 0].max() + r, W)].ravel(),
                              img[_slice(*_rows(y, h, cfg.eye_band), H), cols].ravel()])
    else:
        eye = img[_slice(*_rows(y, h, cfg.eye_band), H), cols].ravel()
    if eye.size >= 2:
        hot = float(np.mean(np.partition(eye, -2)[-2:]))
        contrast = hot - ref
        # the warmest point of the upper face must be the eye region's (inner canthus warmest,
        # forehead and cheeks cooler): a warm edge or corner elsewhere is not a canthus
        located = float(eye.max()) >= float(ranked[-1]) - 0.05
    else:
        contrast, located = 0.0, False
    s_can = _logistic(contrast - cfg.canthus_contrast_c, 0.15)
    if not located:
        s_can = min(s_can, 0.25)
    hotspot = located and contrast >= cfg.canthus_contrast_c

    # 3. texture: a screen or a warmed tablet is one temperature all over, up to the sensor noise
    std = float(np.std(upper))
    s_tex = _logistic(std - cfg.flat_std_c, 0.05)
    textured = std > cfg.flat_std_c

    reasons = (warm_reason, CANTHUS_HOTSPOT if hotspot else NO_CANTHUS_HOTSPOT,
               FACE_TEXTURE_OK if textured else FLAT_UNIFORM)
    live = warm and hotspot and textured
    score = min(s_warm, s_can, s_tex)
    # keep score and verdict consistent at the thresholds themselves (ties count as passing)
    score = max(score, 0.5) if live else min(score, 0.4999)
    return LivenessResult(live, score, reasons, ambient_c=amb, margin_c=margin, contrast_c=contrast, std_c=std)
