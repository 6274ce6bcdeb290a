"""Byte-exact decoders for the UVC thermal formats (Lepton Y16, P2 Pro split frame).

Each takes the buffer exactly as the device delivers it and returns a ThermalFrame; anything
that is not a whole frame raises FrameFormatError with one clear line.
The MLX90640 needs its EEPROM as well as the frame: see ``mlx90640.py``.
"""

from __future__ import annotations

import time

import numpy as np

from edge.thermal.errors import FrameFormatError
from edge.thermal.frame import FfcState, SensorState, ThermalFrame

KELVIN = 273.15

# FLIR Lepton 3.5 on a PureThermal board: 160x120 radiometric Y16, TLinear on (0.01 K per count).
LEPTON_W, LEPTON_H = 160, 120
LEPTON_TELEMETRY_ROWS = 2  # 3 telemetry lines of 80 words (A, B, C) fill 1.5 rows of 160 words
# A frame this soon after a completed FFC is still settling (FLIR: shutter-close transient).
LEPTON_POST_FFC_MS = 1000

# InfiRay P2 Pro / TOPDON TC001: one 256x384 YUYV frame; the bottom half carries temperatures.
P2PRO_W, P2PRO_H = 256, 192
P2PRO_FRAME_BYTES = P2PRO_W * P2PRO_H * 2 * 2

_FFC_STATES = {0: FfcState.NEVER, 1: FfcState.IMMINENT, 2: FfcState.IN_PROGRESS, 3: FfcState.COMPLETE}


def _as_bytes(data: bytes | bytearray | memoryview | np.ndarray) -> bytes:
    if isinstance(data, np.ndarray):
        return data.tobytes()
    return bytes(data)


def decode_lepton_y16(data, telemetry: str = "footer", timestamp: float | None = None) -> ThermalFrame:
    """Decode a PureThermal Y16 frame: 160x120 (no telemetry) or 160x122 (telemetry rows).

    ``telemetry`` says where the two telemetry rows sit in a 160x122 frame: "footer" (the
    PureThermal firmware default) or "header".
    """
    raw = _as_bytes(data)
    row_bytes = LEPTON_W * 2
    n = len(raw)
    if n % 2:
        raise FrameFormatError(f"lepton-y16: {n} bytes is not a whole number of 16-bit pixels")
    if n == LEPTON_W * LEPTON_H * 2:
        rows = LEPTON_H
    elif n == LEPTON_W * (LEPTON_H + LEPTON_TELEMETRY_ROWS) * 2:
        rows = LEPTON_H + LEPTON_TELEMETRY_ROWS
    else:
        got_rows = n / row_bytes
        raise FrameFormatError(
            f"lepton-y16: {n} bytes ({got_rows:g} rows of 160) — expected {LEPTON_W * LEPTON_H * 2} "
            f"(160x120) or {LEPTON_W * (LEPTON_H + 2) * 2} (160x122 with telemetry); truncated frame?"
        )
    words = np.frombuffer(raw, dtype="<u2").reshape(rows, LEPTON_W)
    state = SensorState()
    flags: list[str] = []
    usable = True
    if rows == LEPTON_H:
        image = words
        flags.append("no_telemetry")
    else:
        if telemetry == "header":
            tel, image = words[:LEPTON_TELEMETRY_ROWS], words[LEPTON_TELEMETRY_ROWS:]
        elif telemetry == "footer":
            image, tel = words[:LEPTON_H], words[LEPTON_H:]
        else:
            raise FrameFormatError(f"lepton-y16: telemetry location must be header or footer, not {telemetry!r}")
        state = parse_lepton_telemetry(tel.reshape(-1)[:80])
        if state.ffc_state in (FfcState.IMMINENT, FfcState.IN_PROGRESS):
            usable = False
            flags.append("ffc_" + state.ffc_state.value)
        elif state.ms_since_ffc is not None and state.ms_since_ffc < LEPTON_POST_FFC_MS:
            usable = False
            flags.append("ffc_settling")
    # TLinear radiometry: counts are centikelvin. 0 never occurs in a real scene (-273 °C).
    celsius = image.astype(np.float32) * np.float32(0.01) - np.float32(KELVIN)
    if not np.any(image):
        raise FrameFormatError("lepton-y16: all-zero frame (sensor not streaming radiometric Y16?)")
    return ThermalFrame(celsius=celsius, format="lepton-y16",
                        timestamp=time.monotonic() if timestamp is None else timestamp,
                        state=state, usable=usable, flags=tuple(flags))


def _u32(lo: int, hi: int) -> int:
    # Lepton telemetry 32-bit fields: least significant word first.
    return (int(hi) << 16) | int(lo)


def parse_lepton_telemetry(row_a: np.ndarray) -> SensorState:
    """Telemetry row A (80 words) per the Lepton 3.5 datasheet, words already in host order."""
    if row_a.shape[0] < 33:
        raise FrameFormatError("lepton-y16: telemetry row shorter than 33 words")
    status = _u32(row_a[3], row_a[4])
    uptime = _u32(row_a[1], row_a[2])
    last_ffc = _u32(row_a[30], row_a[31])
    ffc_state = _FFC_STATES[(status >> 4) & 0x3]
    fpa_ck = int(row_a[24])
    housing_ck = int(row_a[26])
    ms_since = uptime - last_ffc if ffc_state == FfcState.COMPLETE and uptime >= last_ffc else None
    return SensorState(
        fpa_c=fpa_ck / 100.0 - KELVIN if fpa_ck else None,
        housing_c=housing_ck / 100.0 - KELVIN if housing_ck else None,
        ffc_state=ffc_state,
        ms_since_ffc=ms_since,
        frame_counter=_u32(row_a[20], row_a[21]),
        uptime_ms=uptime,
    )


def decode_p2pro(data, timestamp: float | None = None) -> ThermalFrame:
    """Decode the P2 Pro's 256x384 YUYV frame: rows 192..383 are uint16 LE in 1/64 K."""
    raw = _as_bytes(data)
    if len(raw) != P2PRO_FRAME_BYTES:
        raise FrameFormatError(
            f"p2pro: {len(raw)} bytes — expected {P2PRO_FRAME_BYTES} (256x384 YUYV, 2 bytes per pixel); "
            "truncated frame or wrong mode?"
        )
    half = P2PRO_W * P2PRO_H * 2
    temps = np.frombuffer(raw, dtype="<u2", offset=half).reshape(P2PRO_H, P2PRO_W)
    if not np.any(temps):
        raise FrameFormatError("p2pro: temperature half is all zero (camera not in split-frame mode?)")
    celsius = temps.astype(np.float32) * np.float32(1 / 64) - np.float32(KELVIN)
    return ThermalFrame(celsius=celsius, format="p2pro",
                        timestamp=time.monotonic() if timestamp is None else timestamp,
                        state=SensorState(), usable=True, flags=("no_sensor_state",))


def encode_lepton_y16(celsius: np.ndarray, state: SensorState | None = None, telemetry: str | None = "footer",
                      status_ffc: int = 3) -> bytes:
    """The inverse of decode_lepton_y16, used by the simulator and the tests."""
    ck = np.clip(np.rint((np.asarray(celsius, dtype=np.float64) + KELVIN) * 100), 1, 65535).astype("<u2")
    if ck.shape != (LEPTON_H, LEPTON_W):
        raise ValueError("lepton frame must be 120x160")
    if telemetry is None:
        return ck.tobytes()
    state = state or SensorState()
    tel = np.zeros(LEPTON_W * LEPTON_TELEMETRY_ROWS, dtype="<u2")
    tel[0] = 14  # telemetry revision
    uptime = state.uptime_ms or 0
    tel[1], tel[2] = uptime & 0xFFFF, uptime >> 16
    status = (status_ffc & 0x3) << 4
    tel[3], tel[4] = status & 0xFFFF, status >> 16
    fc = state.frame_counter or 0
    tel[20], tel[21] = fc & 0xFFFF, fc >> 16
    if state.fpa_c is not None:
        tel[24] = int(round((state.fpa_c + KELVIN) * 100))
    if state.housing_c is not None:
        tel[26] = int(round((state.housing_c + KELVIN) * 100))
    last_ffc = max(0, uptime - (state.ms_since_ffc if state.ms_since_ffc is not None else uptime))
    tel[30], tel[31] = last_ffc & 0xFFFF, last_ffc >> 16
    tel = tel.reshape(LEPTON_TELEMETRY_ROWS, LEPTON_W)
    parts = (tel, ck) if telemetry == "header" else (ck, tel)
    return np.vstack(parts).astype("<u2").tobytes()


def encode_p2pro(celsius: np.ndarray) -> bytes:
    """The inverse of decode_p2pro: a plausible YUYV preview on top, 1/64 K temperatures below."""
    t = np.asarray(celsius, dtype=np.float64)
    if t.shape != (P2PRO_H, P2PRO_W):
        raise ValueError("p2pro frame must be 192x256")
    lo, hi = float(t.min()), float(t.max())
    y = np.clip((t - lo) / max(hi - lo, 1e-6) * 219 + 16, 0, 255).astype(np.uint8)
    yuyv = np.empty((P2PRO_H, P2PRO_W, 2), dtype=np.uint8)
    yuyv[..., 0] = y
    yuyv[..., 1] = 128  # neutral chroma
    raw_t = np.clip(np.rint((t + KELVIN) * 64), 1, 65535).astype("<u2")
    return yuyv.tobytes() + raw_t.tobytes()
