"""`--thermal sim`: thermal frames rendered by edge/thermal/sim.py from a scene's ground truth.

Each true face box becomes a simulated face at the depth its width implies (a 0.15 m face seen by
the rig's RGB camera), with the walker's core temperature; the frame goes through the real
sensor encoder and decoder. The gate's registration is calibrated on the same rig the way an
installer does it (heated-target corners at two distances), so the pipeline maps its own
detected face onto the thermal frame exactly as a real gate would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from edge.capture.source import Frame
from edge.thermal.config import SensorProfile, ThermalConfig, load_profile
from edge.thermal.frame import ThermalFrame
from edge.thermal.registration import fit_registration
from edge.thermal.sim import (
    EYE_Y_M,
    FACE_W_M,
    Scene,
    SceneEncoder,
    SimFace,
    SimRig,
    decode_raw,
    spoof_for_face,
)

DEFAULT_PROFILE = "lepton35-purethermal"
# where the eyes sit in a face box (fraction of its height from the top): in the ground truth's
# dlib-style boxes (eyebrows to chin) the eye line is at 0.39 +- 0.05 on the test photographs
EYE_LINE_FRAC = 0.4


@dataclass(frozen=True)
class TrueFace:
    box: tuple[int, int, int, int]
    core_temperature_c: float
    # a presentation attack instead of a person: "printed_photo" | "phone_screen" | "tablet_warm"
    # (edge/thermal/sim.py SimSpoof), shown where the face would be
    spoof: str | None = None


def sim_face(rig: SimRig, box: Sequence[float], core_c: float) -> SimFace:
    """The simulated face behind an RGB face box (inverse of SimRig.to_rgb at the implied depth)."""
    x, y, w, h = (float(v) for v in box)
    f = rig.f_rgb
    cx, cy = (rig.rgb_size[0] - 1) / 2, (rig.rgb_size[1] - 1) / 2
    z = f * FACE_W_M / max(w, 1.0)
    bx, by = rig.baseline_m
    x_m = (x + w / 2 - cx) / f * z + bx
    eye_y_m = (y + EYE_LINE_FRAC * h - cy) / f * z + by
    return SimFace(distance_m=z, x_m=x_m, y_m=eye_y_m - EYE_Y_M, core_c=core_c)


class TruthThermalFrames:
    """ThermalFrames for a recorded scene: `truth[i]` lists the true faces of RGB frame i."""

    def __init__(self, truth: Sequence[Sequence[TrueFace]], rgb_size: tuple[int, int],
                 profile: SensorProfile | None = None, ambient_c: float = 22.0, seed: int = 0):
        self.profile = profile or load_profile(DEFAULT_PROFILE)
        self.rig = SimRig(self.profile, rgb_size=tuple(rgb_size))
        self.encoder = SceneEncoder(self.profile, self.rig, seed)
        self.truth = truth
        self.ambient_c = ambient_c
        self._latest: tuple[int, ThermalFrame] | None = None

    def frame_for(self, frame: Frame) -> ThermalFrame | None:
        """The sensor's latest frame at the camera frame's media time. The sensor runs at its own
        rate (a Lepton at 8.7 Hz gives a new frame every 3-4 camera frames), as a supervisor's
        latest() does on a live gate, so the pipeline sees the same frame repeated as it would."""
        period = int(frame.timestamp * self.profile.frame_rate_hz)
        if self._latest is not None and self._latest[0] == period:
            return self._latest[1]
        faces = self.truth[frame.index] if frame.index < len(self.truth) else []
        live = [f for f in faces if f.spoof is None]
        scene = Scene(ambient_c=self.ambient_c,
                      faces=tuple(sim_face(self.rig, f.box, f.core_temperature_c) for f in live),
                      spoofs=tuple(spoof_for_face(f.spoof, sim_face(self.rig, f.box, f.core_temperature_c))
                                   for f in faces if f.spoof is not None))
        decoded = decode_raw(self.profile, self.encoder.encode(scene)[0])
        # rendered and stamped at the first camera frame of its period: what a sensor frame
        # captured beside that camera frame shows, then repeated until the next one
        thermal = replace(decoded, timestamp=frame.timestamp)
        self._latest = (period, thermal)
        return thermal

    def gate_config(self, **overrides) -> ThermalConfig:
        """The gate's thermal section as `menwei thermal calibrate` would give it for this rig."""
        rgb, th, dist = [], [], []
        for d in (0.6, 1.4):
            r, t = self.rig.target_corners(distance_m=d)
            rgb.append(r)
            th.append(t)
            dist += [d] * len(r)
        fit = fit_registration(np.vstack(rgb), np.vstack(th), dist)
        return ThermalConfig(sensor=self.profile.name, **fit.as_config(), **overrides)
