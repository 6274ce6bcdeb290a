"""Door profiles (firmware_configs/doors/*.yaml): which board drives the lock, how it is wired,
and the door's timing. Validation errors name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge import firmware
from menwei.errors import MenweiError, fields_error


class DoorProfileError(MenweiError):
    code = "bad_door_profile"


def profiles_dir() -> Path:
    return firmware.profiles_dir("doors", "MENWEI_DOOR_PROFILES")


class WiegandTiming(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pulse_us: int = Field(100, ge=20, le=1000)
    interval_us: int = Field(2000, ge=200, le=20000)
    facility: int = Field(0, ge=0, le=255, description="the site code the controller expects")


class DoorProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    driver: Literal["ch340"]
    usb_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{4}:[0-9a-f]{4}$",
                               description="vendor:product of the board (deploy/udev names it /dev/menwei/relay)")
    channel: int = Field(1, ge=1, le=4, description="which relay of the board")
    lock: Literal["fail-secure", "fail-safe"] = Field(
        description="fail-secure: a strike that stays locked without power (NO contact); "
                    "fail-safe: a maglock that releases without power (NC contact)")
    wiring: str = Field(min_length=1, description="how to connect it, for the installer")
    wiegand: WiegandTiming | None = None


def load_door_profile(name: str) -> DoorProfile:
    path = profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in profiles_dir().glob("*.yaml"))
        raise DoorProfileError(f"door profile {name!r} not found (known: {', '.join(known) or 'none'})")
    try:
        data = yaml.safe_load(path.read_text())
        return DoorProfile.model_validate(data)
    except yaml.YAMLError as exc:
        raise DoorProfileError(f"door profile {name}: not YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        raise DoorProfileError(fields_error(exc, f"door profile {name}: ")) from None
