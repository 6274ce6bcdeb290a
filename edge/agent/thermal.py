"""The gate's thermal sensor as the pipeline reads it: none, the simulator (from a scene's ground
truth), or a real sensor under its supervisor (edge/thermal)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.agent.config import SENSOR_PROFILES, GateConfig, GateConfigError
from edge.capture.source import Frame
from edge.pipeline.thermal_reading import ThermalReader


@dataclass
class ThermalSetup:
    reader: ThermalReader | None
    method: str | None  # what the entry event's temperature.method says
    supervisor: object | None = None  # a ThermalSupervisor to start and stop, for real sensors

    def state(self) -> str:
        if self.reader is None:
            return "none"
        if self.supervisor is None:
            return "simulated"
        return str(self.supervisor.status().state)


class _Supervised:
    """A real sensor: the newest fresh frame its supervisor holds (None → unavailable)."""

    def __init__(self, supervisor):
        self.supervisor = supervisor

    def frame_for(self, frame: Frame):
        return self.supervisor.latest()


def _truth(cfg: GateConfig, rgb_size: tuple[int, int]):
    from edge.capture.synthetic import load_truth, named_scene

    source = cfg.camera.source
    if source.startswith("synthetic:"):
        w, h = rgb_size
        return named_scene(source.removeprefix("synthetic:"), width=w, height=h).truth()
    path = cfg.thermal.truth or Path(source).with_suffix(".truth.json")
    try:
        return load_truth(path)
    except FileNotFoundError:
        raise GateConfigError(f"thermal.truth: {path}: not found (sensor 'sim' renders a scene's ground truth)") \
            from None
    except (ValueError, KeyError, TypeError) as exc:
        raise GateConfigError(f"thermal.truth: {path}: not a scene ground-truth file ({exc})") from None


def build_thermal(cfg: GateConfig, rgb_size: tuple[int, int]) -> ThermalSetup:
    sensor = cfg.thermal.sensor
    if sensor == "none":
        return ThermalSetup(None, None)
    if sensor == "sim":
        from edge.pipeline.thermal_sim import TrueFace, TruthThermalFrames

        truth = _truth(cfg, rgb_size)
        frames = TruthThermalFrames([[TrueFace(f.box, f.core_temperature_c, spoof=f.spoof) for f in faces]
                                     for faces in truth],
                                    rgb_size)
        return ThermalSetup(ThermalReader(frames, frames.gate_config(), frames.profile), "sim")
    from edge.thermal.config import ThermalConfigError, load_profile, parse_thermal_config
    from edge.thermal.drivers import source_factory
    from edge.thermal.supervisor import ThermalSupervisor

    extra = cfg.thermal.model_extra or {}
    try:
        tcfg = parse_thermal_config({**extra, "sensor": SENSOR_PROFILES.get(sensor, sensor)})
        profile = load_profile(tcfg.sensor)
    except ThermalConfigError as exc:
        raise GateConfigError(str(exc)) from None
    supervisor = ThermalSupervisor(source_factory(profile, tcfg.device), stall_timeout=tcfg.stall_timeout_s)
    return ThermalSetup(ThermalReader(_Supervised(supervisor), tcfg, profile), profile.name, supervisor)
