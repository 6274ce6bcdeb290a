"""The decoded thermal frame every driver yields, whatever the sensor."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class FfcState(StrEnum):
    """Flat-field correction (shutter) state as the sensor reports it."""

    UNKNOWN = "unknown"  # the sensor does not report it (no telemetry, P2 Pro, MLX90640)
    NEVER = "never"
    IMMINENT = "imminent"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class SensorState:
    """What the sensor says about itself alongside the pixels."""

    fpa_c: float | None = None  # focal-plane-array / die temperature
    housing_c: float | None = None
    ffc_state: FfcState = FfcState.UNKNOWN
    ms_since_ffc: int | None = None  # time since the last completed flat-field correction
    frame_counter: int | None = None
    uptime_ms: int | None = None
    vdd: float | None = None  # MLX90640 supply voltage


@dataclass(frozen=True, slots=True)
class ThermalFrame:
    """Apparent temperatures (emissivity 1, °C) of one frame, row-major HxW float32.

    ``usable`` is False for frames that must not be measured (around a flat-field correction,
    an incomplete MLX90640 frame); ``flags`` says why.
    """

    celsius: np.ndarray
    format: str
    timestamp: float  # time.monotonic() at capture
    state: SensorState = field(default_factory=SensorState)
    usable: bool = True
    flags: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return int(self.celsius.shape[1])

    @property
    def height(self) -> int:
        return int(self.celsius.shape[0])
