"""The temperature and the liveness of the same face: the RGB face box and inner eye corners mapped
onto the thermal frame through the gate's registration (edge/thermal/estimate.py,
edge/thermal/liveness.py)."""

from __future__ import annotations

from typing import Protocol

from edge.capture.source import Frame
from edge.face.types import Face
from edge.thermal.config import SensorProfile, ThermalConfig
from edge.thermal.estimate import ThermalReading, estimate, frame_ambient, thermal_face_box
from edge.thermal.frame import ThermalFrame
from edge.thermal.liveness import LivenessConfig, LivenessResult, assess
from menwei.wire import TemperatureStatus


class ThermalFrames(Protocol):
    """Where the thermal frame seen together with an RGB frame comes from (a sensor supervisor's
    latest frame, or the simulator rendering the scene)."""

    def frame_for(self, frame: Frame) -> ThermalFrame | None: ...


class ThermalReader:
    def __init__(self, frames: ThermalFrames, config: ThermalConfig, profile: SensorProfile,
                 liveness: LivenessConfig | None = None):
        self.frames = frames
        self.config = config
        self.profile = profile
        self.liveness_config = liveness or config.liveness  # the gate's thermal.liveness section
        self._cached: tuple[int, ThermalFrame | None] | None = None

    def thermal_frame(self, frame: Frame) -> ThermalFrame | None:
        """One thermal frame per RGB frame, however many faces are read on it."""
        if self._cached is None or self._cached[0] != frame.index:
            self._cached = (frame.index, self.frames.frame_for(frame))
        return self._cached[1]

    def read(self, frame: Frame, face: Face, thermal: ThermalFrame | None) -> ThermalReading:
        h, w = frame.image.shape[:2]
        canthi = tuple(tuple(float(v) for v in p) for p in face.inner_canthi())
        return estimate(face.bbox, canthi, (w, h), self.config.H, thermal, self.config, self.profile)

    def liveness(self, frame: Frame, face: Face, thermal: ThermalFrame | None) -> LivenessResult:
        if thermal is None:
            return assess(None, (0, 0, 1, 1))
        h, w = frame.image.shape[:2]
        canthi = tuple(tuple(float(v) for v in p) for p in face.inner_canthi())
        box, th_canthi = thermal_face_box(face.bbox, canthi, (w, h), self.config.H, self.config)
        if not thermal.usable:
            return assess(thermal, box)
        ambient = frame_ambient(thermal, self.config, self.profile)  # as the gate's thermal section says
        return assess(thermal, box, ambient_c=ambient, canthi=th_canthi, config=self.liveness_config)


def is_valid(reading: ThermalReading) -> bool:
    return reading.status != TemperatureStatus.UNAVAILABLE and reading.celsius is not None
