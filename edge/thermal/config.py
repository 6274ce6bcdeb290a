"""Typed configuration: sensor profiles (firmware_configs/thermal/*.yaml) and a gate's thermal
section. Validation errors name the offending field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge import firmware
from edge.thermal.errors import ThermalConfigError
from menwei.errors import fields_error

FORMATS = ("lepton-y16", "p2pro", "mlx90640")
NATIVE_RESOLUTION = {"lepton-y16": (160, 120), "p2pro": (256, 192), "mlx90640": (32, 24)}


def _profiles_dir() -> Path:
    return firmware.profiles_dir("thermal", "MENWEI_THERMAL_PROFILES")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorProfile(_Strict):
    """A thermal sensor model: what it delivers and how good it is."""

    name: str = Field(min_length=1, max_length=64)
    format: Literal["lepton-y16", "p2pro", "mlx90640"]
    usb_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{4}:[0-9a-f]{4}$")
    i2c_address: int | None = Field(default=None, ge=0x03, le=0x77)
    resolution: tuple[int, int]
    telemetry: Literal["header", "footer"] | None = None
    frame_rate_hz: float = Field(gt=0, le=100)
    hfov_deg: float = Field(gt=1, lt=180)
    vfov_deg: float = Field(gt=1, lt=180)
    accuracy_c: float = Field(gt=0, le=10)
    netd_c: float = Field(gt=0, le=1)
    emissivity: float = Field(default=0.98, gt=0.5, le=1.0)
    fpa_minus_ambient_c: float | None = Field(default=None, ge=-10, le=30)
    distance_coeff_c_per_m: float = Field(default=0.0, ge=-2, le=2)
    psf_sigma_px: float = Field(default=0.5, ge=0, le=3)  # lens blur, Gaussian sigma in pixels

    @model_validator(mode="after")
    def _native(self) -> SensorProfile:
        native = NATIVE_RESOLUTION[self.format]
        if tuple(self.resolution) != native:
            raise ValueError(f"resolution {list(self.resolution)} does not match {self.format} ({list(native)})")
        if self.format in ("lepton-y16", "p2pro") and not self.usb_id:
            raise ValueError(f"a {self.format} profile needs usb_id (vvvv:pppp) to find the device")
        return self


def load_profile(name_or_path: str) -> SensorProfile:
    """Load and validate a profile by name (file stem or `name`) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        folder = _profiles_dir()
        path = folder / f"{name_or_path}.yaml"
        if not path.exists():
            for cand in sorted(folder.glob("*.yaml")):
                if yaml.safe_load(cand.read_text() or "{}").get("name") == name_or_path:
                    path = cand
                    break
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(_profiles_dir().glob("*.yaml")))
        raise ThermalConfigError(f"thermal profile {name_or_path!r} not found (known: {known})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ThermalConfigError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ThermalConfigError(f"{path.name}: expected a mapping of profile fields")
    try:
        return SensorProfile.model_validate(data)
    except ValidationError as exc:
        raise ThermalConfigError(fields_error(exc, f"{path.name}: ")) from None


def list_profiles() -> list[SensorProfile]:
    return [load_profile(str(p)) for p in sorted(_profiles_dir().glob("*.yaml"))]


class CompensationConfig(_Strict):
    """Skin → core model; see docs/THERMAL.md "Compensation" for where the defaults come from."""

    canthus_offset_c: float = Field(default=0.40, ge=-1, le=3)  # core − inner canthus at ambient_ref_c
    face_offset_c: float = Field(default=1.50, ge=-1, le=5)  # core − face p95 at ambient_ref_c
    ambient_ref_c: float = Field(default=24.0, ge=0, le=40)
    ambient_coeff_canthus: float = Field(default=0.04, ge=0, le=0.5)  # °C added per °C below ambient_ref_c
    ambient_coeff_face: float = Field(default=0.12, ge=0, le=0.5)
    canthus_spot_sigma_mm: float = Field(default=7.0, gt=1, le=30)  # size of the canthus hot spot
    distance_ref_m: float = Field(default=0.5, gt=0, le=3)
    distance_coeff_c_per_m: float | None = Field(default=None, ge=-2, le=2)  # None: the profile's value
    ambient_source: Literal["sensor", "background", "fixed"] = "sensor"
    ambient_fixed_c: float | None = Field(default=None, ge=-20, le=50)

    @model_validator(mode="after")
    def _fixed(self) -> CompensationConfig:
        if self.ambient_source == "fixed" and self.ambient_fixed_c is None:
            raise ValueError("ambient_source 'fixed' needs ambient_fixed_c")
        return self


class BlackbodyConfig(_Strict):
    """A reference source at a known temperature in the thermal view; corrects drift per frame."""

    region: tuple[int, int, int, int]  # x, y, w, h in thermal pixels
    temperature_c: float = Field(ge=20, le=60)
    emissivity: float = Field(default=0.97, gt=0.5, le=1.0)
    max_correction_c: float = Field(default=2.0, gt=0, le=10)

    @field_validator("region")
    @classmethod
    def _region(cls, v):
        if v[2] < 1 or v[3] < 1 or v[0] < 0 or v[1] < 0:
            raise ValueError("region must be x, y >= 0 and w, h >= 1")
        return v


class LivenessConfig(_Strict):
    """A gate's `thermal.liveness:` section (edge/thermal/liveness.py, docs/FACE.md "Liveness"):
    thresholds of the three checks and the face geometry they look at (fractions of the box)."""

    warm_margin_c: float = Field(3.0, gt=0, le=15, description="warm upper face (p90) above the room, °C")
    # 0.45: on the simulated scenes flat attacks reach 0.2 (Lepton, P2 Pro) to 0.4 (MLX90640's
    # noise: the two hottest of many noisy pixels), the weakest live faces 0.5-0.6 (30 °C room:
    # Lepton at 1.5 m, MLX90640 at 0.35 m); set between them before the tests were written
    canthus_contrast_c: float = Field(0.45, gt=0, le=5, description="hot spot above the upper face's median, °C")
    flat_std_c: float = Field(0.2, gt=0, le=3, description="upper-face std at or below this is a flat surface, °C")
    min_structure_px: float = Field(12.0, ge=4, le=200, description="box width (thermal px) the structure "
                                    "checks need; below it only warmth can be judged")
    min_warm_px: float = Field(3.0, ge=1, le=200, description="box width (thermal px) below which nothing "
                               "is judged")
    # the upper half only: a mask's top edge rides on the nose bridge just below the eyes, and
    # what lies under it (cooler cloth, or warmer from breath) must not count either way
    upper_face: tuple[float, float] = Field((0.08, 0.50), description="rows of the box looked at (0 = top)")
    eye_band: tuple[float, float] = Field((0.25, 0.50), description="rows where the inner canthi may be")
    inner_cols: tuple[float, float] = Field((0.15, 0.85), description="columns looked at (leaves out the "
                                            "ellipse's edges, where mixed pixels smear the room inward)")
    canthus_radius: float = Field(0.08, gt=0, le=0.3, description="margin of the window around the "
                                  "given canthi, fraction of the box width")

    @model_validator(mode="after")
    def _bands(self):
        for name in ("upper_face", "eye_band", "inner_cols"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo < hi <= 1.0:
                raise ValueError(f"{name}: need 0 <= start < end <= 1, got ({lo}, {hi})")
        if self.min_warm_px > self.min_structure_px:
            raise ValueError("min_warm_px: must not exceed min_structure_px")
        return self


class ThermalConfig(_Strict):
    """A gate's `thermal:` section."""

    sensor: str = "lepton35-purethermal"  # profile name
    device: str | None = None  # /dev/videoN or /dev/i2c-N; None: find by the profile's USB id
    homography: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]] = (
        (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    calibration_distance_m: float = Field(default=1.0, gt=0.1, le=5)  # depth the homography is exact at
    parallax_px_m: tuple[float, float] = (0.0, 0.0)  # thermal focal length x camera baseline
    threshold_c: float = Field(default=37.3, ge=35.0, le=40.0)
    policy: Literal["hard", "soft"] = "soft"
    deny_when_unavailable: bool = False
    offset_c: float = Field(default=0.0, ge=-3, le=3)  # from `menwei thermal offset`
    emissivity: float | None = Field(default=None, gt=0.5, le=1.0)  # None: the profile's value
    compensation: CompensationConfig = Field(default_factory=CompensationConfig)
    blackbody: BlackbodyConfig | None = None
    min_canthus_icd_px: float = Field(default=3.0, ge=1)  # inner-canthus distance on the thermal frame
    min_canthus_pixels: int = Field(default=8, ge=1)
    min_face_pixels: int = Field(default=40, ge=4)
    max_distance_m: float = Field(default=2.0, gt=0, le=10)
    ambient_range_c: tuple[float, float] = (10.0, 40.0)
    rgb_hfov_deg: float = Field(default=70.0, gt=10, lt=180)
    face_width_m: float = Field(default=0.15, gt=0.05, lt=0.4)
    stall_timeout_s: float = Field(default=0.5, gt=0, le=1.0)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)

    @field_validator("homography")
    @classmethod
    def _h(cls, v):
        h = np.asarray(v, dtype=np.float64)
        if not np.all(np.isfinite(h)) or abs(np.linalg.det(h)) < 1e-12:
            raise ValueError("homography must be a finite, invertible 3x3 matrix")
        return v

    @property
    def H(self) -> np.ndarray:  # noqa: N802 — the usual name of a homography
        return np.asarray(self.homography, dtype=np.float64)


def parse_thermal_config(data: dict | None, prefix: str = "thermal.") -> ThermalConfig:
    """Validate a gate's thermal section; ThermalConfigError names each bad field."""
    try:
        return ThermalConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ThermalConfigError(fields_error(exc, prefix)) from None
