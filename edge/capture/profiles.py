"""Camera profiles (firmware_configs/cameras/*.yaml): the mode a gate's camera is opened in.
Validation errors name the offending field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge import firmware
from edge.capture.source import BAD_PROFILE, SourceError
from menwei.errors import fields_error

DEFAULT_CAMERA = "generic-uvc-720p"
# UVC isochronous bandwidth: 3 x 1024 bytes per 125 us microframe on USB 2.0 high speed; uncompressed
# YUYV modes above it do not stream at their nominal fps (MJPEG is compressed and fits).
USB_BYTES_PER_S = {"2.0": 3 * 1024 * 8000, "3.0": 400_000_000}
BYTES_PER_PIXEL = {"YUYV": 2}


def profiles_dir() -> Path:
    return firmware.profiles_dir("cameras", "MENWEI_CAMERA_PROFILES")


class CameraProfile(BaseModel):
    """A camera model and the mode to open it in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    fourcc: Literal["MJPG", "YUYV"]
    width: int = Field(ge=160, le=7680)
    height: int = Field(ge=120, le=4320)
    fps: float = Field(gt=0, le=240)
    usb_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{4}:[0-9a-f]{4}$")
    usb: Literal["2.0", "3.0"] = "2.0"
    hfov_deg: float = Field(default=70.0, gt=10, lt=180)
    buffer_size: int = Field(default=1, ge=1, le=8)  # driver buffers: 1 keeps latency at one frame

    @model_validator(mode="after")
    def _bandwidth(self) -> CameraProfile:
        bpp = BYTES_PER_PIXEL.get(self.fourcc)
        if bpp:
            need = self.width * self.height * bpp * self.fps
            have = USB_BYTES_PER_S[self.usb]
            if need > have:
                raise ValueError(f"{self.fourcc} {self.width}x{self.height} at {self.fps:g} fps needs "
                                 f"{need / 1e6:.1f} MB/s, more than USB {self.usb} carries ({have / 1e6:.1f} MB/s); "
                                 "use MJPG or a smaller mode")
        return self

    def with_overrides(self, width: int | None = None, height: int | None = None,
                       fps: float | None = None) -> CameraProfile:
        """This profile with a different mode, validated again."""
        data = self.model_dump()
        data.update({k: v for k, v in (("width", width), ("height", height), ("fps", fps)) if v is not None})
        return validate_profile(data, f"camera {self.name}: ")


def validate_profile(data: object, prefix: str = "") -> CameraProfile:
    if not isinstance(data, dict):
        raise SourceError(f"{prefix}expected a mapping of camera profile fields", BAD_PROFILE)
    try:
        return CameraProfile.model_validate(data)
    except ValidationError as exc:
        raise SourceError(fields_error(exc, prefix), BAD_PROFILE) from None


def load_camera_profile(name_or_path: str = DEFAULT_CAMERA) -> CameraProfile:
    """A profile by name (file stem) or by path to a .yaml file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = profiles_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(profiles_dir().glob("*.yaml")))
        raise SourceError(f"camera profile {name_or_path!r} not found (known: {known})", BAD_PROFILE)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SourceError(f"{path.name}: not valid YAML: {' '.join(str(exc).split())}", BAD_PROFILE) from None
    return validate_profile(data, f"{path.name}: ")


def list_camera_profiles() -> list[CameraProfile]:
    return [load_camera_profile(str(p)) for p in sorted(profiles_dir().glob("*.yaml"))]
