"""Sensor drivers behind one interface, ``ThermalSource``:

* ``UvcSource``: Lepton 3.5 / PureThermal (Y16) and P2 Pro (YUYV split frame) through OpenCV's
  V4L2 backend, raw (CONVERT_RGB off), the device found by its USB id in /sys/class/video4linux;
* ``Mlx90640Source``: MLX90640 over Linux i2c-dev with smbus2;
* ``edge.thermal.sim.SimSource``: the simulator.

``read(timeout)`` returns one decoded ThermalFrame or raises SensorUnavailable / SensorTimeout /
FrameFormatError; the supervisor (supervisor.py) turns those into "unavailable" and reconnects.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

from edge.thermal import decoders
from edge.thermal.config import SensorProfile
from edge.thermal.errors import SensorTimeout, SensorUnavailable, ThermalConfigError
from edge.thermal.frame import ThermalFrame

SYSFS_V4L = Path("/sys/class/video4linux")


@runtime_checkable
class ThermalSource(Protocol):
    name: str

    def open(self) -> None: ...

    def read(self, timeout: float = 1.0) -> ThermalFrame: ...

    def close(self) -> None: ...


def find_video_device(usb_id: str, sysfs: Path = SYSFS_V4L) -> str | None:
    """/dev/videoN of the first capture node whose USB device has this vvvv:pppp id.

    Each UVC camera exposes a capture node (index 0) and a metadata node (index 1); only the
    capture node streams frames. The USB ids live two levels up from the interface directory.
    """
    vid, pid = usb_id.lower().split(":")
    if not sysfs.is_dir():
        return None
    for node in sorted(sysfs.glob("video*"), key=lambda p: int(p.name[5:] or 0)):
        index_file = node / "index"
        if index_file.exists() and index_file.read_text().strip() not in ("", "0"):
            continue
        dev = (node / "device").resolve()
        for parent in (dev, *dev.parents):
            v, p = parent / "idVendor", parent / "idProduct"
            if v.exists() and p.exists():
                if v.read_text().strip().lower() == vid and p.read_text().strip().lower() == pid:
                    return f"/dev/{node.name}"
                break
    return None


class UvcSource:
    """A UVC thermal camera read raw through OpenCV/V4L2.

    A grabber thread blocks in ``VideoCapture.read``; ``read(timeout)`` waits on its queue, so a
    stalled or unplugged camera is noticed within ``timeout`` even if the driver call hangs.
    """

    def __init__(self, profile: SensorProfile, device: str | None = None):
        if profile.format not in ("lepton-y16", "p2pro"):
            raise ThermalConfigError(f"thermal.sensor: {profile.format} is not a UVC sensor")
        self.profile = profile
        self.device = device
        self.name = f"uvc:{profile.name}"
        self._cap = None
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _resolve(self) -> str:
        if self.device:
            return self.device
        found = find_video_device(self.profile.usb_id or "")
        if not found:
            raise SensorUnavailable(f"{self.name}: no video device with USB id {self.profile.usb_id}")
        return found

    def open(self) -> None:
        import cv2

        path = self._resolve()
        cap = cv2.VideoCapture(path, cv2.CAP_V4L2)
        if not cap.isOpened():
            raise SensorUnavailable(f"{self.name}: cannot open {path}")
        if self.profile.format == "lepton-y16":
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"Y16 "))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, 160)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, 122 if self.profile.telemetry else 120)
        else:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"YUYV"))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, 256)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, 384)
        # raw buffers: no conversion to BGR, the bytes are the sensor's words
        cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
        self._cap = cap
        self._stop.clear()
        self._queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._grab, name=self.name, daemon=True)
        self._thread.start()

    def _grab(self) -> None:
        cap, q = self._cap, self._queue
        while not self._stop.is_set():
            ok, buf = cap.read()
            item = (time.monotonic(), buf.tobytes()) if ok and buf is not None else None
            if q.full():
                with contextlib.suppress(queue.Empty):
                    q.get_nowait()  # keep the newest frame
            q.put(item)
            if item is None:
                return  # device gone: read() raises, the supervisor reconnects

    def read(self, timeout: float = 1.0) -> ThermalFrame:
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise SensorTimeout(f"{self.name}: no frame within {timeout:.2f} s") from None
        if item is None:
            raise SensorUnavailable(f"{self.name}: capture stopped (device unplugged?)")
        ts, raw = item
        if self.profile.format == "lepton-y16":
            return decoders.decode_lepton_y16(raw, telemetry=self.profile.telemetry or "footer", timestamp=ts)
        return decoders.decode_p2pro(raw, timestamp=ts)

    def close(self) -> None:
        self._stop.set()
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


class Mlx90640Source:
    """MLX90640 on /dev/i2c-N (or an MCP2221 bridge's bus). ``bus_factory`` opens the bus; by
    default smbus2.SMBus(N)."""

    def __init__(self, profile: SensorProfile, bus: int | str = 1, bus_factory=None, chunk_words: int = 416,
                 refresh_code: int | None = 3):
        self.profile = profile
        self.bus_id = bus
        self.name = f"i2c:{profile.name}"
        self._factory = bus_factory
        self._bus = None
        self._dev = None
        self._decoder = None
        self.chunk_words = chunk_words
        self.refresh_code = refresh_code

    def open(self) -> None:
        from edge.thermal import mlx90640

        try:
            if self._factory is not None:
                bus = self._factory()
            else:
                from smbus2 import SMBus

                num = int(str(self.bus_id).removeprefix("/dev/i2c-"))
                bus = SMBus(num)
        except (OSError, ValueError) as exc:
            raise SensorUnavailable(f"{self.name}: cannot open I2C bus {self.bus_id}: {exc}") from exc
        dev = mlx90640.Mlx90640I2C(bus, self.profile.i2c_address or 0x33, self.chunk_words)
        self._decoder = mlx90640.Mlx90640Decoder(dev.read_eeprom())
        if self.refresh_code is not None:
            dev.set_refresh_rate(self.refresh_code)
        self._bus, self._dev = bus, dev

    def read(self, timeout: float = 1.0) -> ThermalFrame:
        if self._dev is None or self._decoder is None:
            raise SensorUnavailable(f"{self.name}: not open")
        return self._decoder.feed(self._dev.read_subpage(timeout=timeout))

    def close(self) -> None:
        bus, self._bus, self._dev = self._bus, None, None
        if bus is not None and hasattr(bus, "close"):
            with contextlib.suppress(OSError):
                bus.close()


def open_source(profile: SensorProfile, device: str | None = None) -> ThermalSource:
    """The driver for a profile (not yet opened)."""
    if profile.format == "mlx90640":
        return Mlx90640Source(profile, bus=device or 1)
    return UvcSource(profile, device)


def source_factory(profile: SensorProfile, device: str | None = None, simulated: bool = False, scene=None):
    """What the supervisor calls on every (re)connect. A simulated source is one object whose
    fault state survives reconnects, like a real device on its port."""
    if simulated:
        from edge.thermal.sim import SimSource

        sim = SimSource(profile, scene)
        return lambda: sim
    return lambda: open_source(profile, device)
