"""Unplug, stall and garbage mid-stream: readings turn 'unavailable' within a second and the
source reconnects when the device returns — through the simulator and the i2c-dev driver."""

from __future__ import annotations

import time

from edge.thermal.config import load_profile
from edge.thermal.drivers import Mlx90640Source
from edge.thermal.sim import Scene, SimFace, SimSource
from edge.thermal.supervisor import SourceState, ThermalSupervisor

from .fake_i2c import FakeMlx90640Bus


def _until(pred, timeout: float) -> float | None:
    """Seconds until pred() held, or None on timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.005)
    return None


def test_unplug_stall_garbage_and_replug_mid_stream():
    prof = load_profile("lepton35-purethermal")
    src = SimSource(prof, Scene(ambient_c=22, faces=(SimFace(distance_m=1.0),)), fps=20)
    with ThermalSupervisor(lambda: src, stall_timeout=0.5) as sup:
        assert _until(lambda: sup.latest() is not None, 3.0) is not None
        assert sup.latest().usable and sup.status().state == SourceState.OK

        src.unplug()
        took = _until(lambda: sup.latest() is None, 2.0)
        assert took is not None and took < 1.0
        assert _until(lambda: sup.status().state == SourceState.DISCONNECTED, 1.0) is not None
        time.sleep(0.3)  # stays unavailable while unplugged, retrying without crashing
        assert sup.latest() is None
        src.replug()
        assert _until(lambda: sup.latest() is not None, 3.0) is not None
        assert sup.status().reconnects >= 1

        src.stall(True)
        took = _until(lambda: sup.latest() is None, 2.0)
        assert took is not None and took < 1.0
        assert sup.status().state == SourceState.STALLED
        src.stall(False)
        assert _until(lambda: sup.latest() is not None, 3.0) is not None

        src.inject_garbage(2)  # torn transfers
        took = _until(lambda: sup.latest() is None, 2.0)
        assert took is not None and took < 1.0
        assert _until(lambda: sup.latest() is not None, 3.0) is not None
        assert sup.status().garbage_frames >= 2
    assert sup.status().state == SourceState.STOPPED


def test_mlx90640_bus_unplug_and_replug(mlx_example):
    ee, f0, f1, _ = mlx_example
    bus = FakeMlx90640Bus(ee, [f0, f1], cycle=True, period_s=0.05)
    prof = load_profile("mlx90640")
    with ThermalSupervisor(lambda: Mlx90640Source(prof, bus_factory=lambda: bus), stall_timeout=0.5) as sup:
        assert _until(lambda: sup.latest() is not None, 3.0) is not None  # after both subpages
        bus.unplugged = True
        took = _until(lambda: sup.latest() is None, 2.0)
        assert took is not None and took < 1.0
        assert _until(lambda: sup.status().state == SourceState.DISCONNECTED, 1.0) is not None
        bus.unplugged = False
        assert _until(lambda: sup.latest() is not None, 3.0) is not None
        assert sup.status().reconnects >= 1
