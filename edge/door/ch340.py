"""The CH340 "LCUS" USB relay boards (LCUS-1, -2, -4: one to four relays behind a CH340 USB-serial
chip), as sold by the thousand for door strikes and maglocks.

Their serial protocol, 9600 8N1, no reply: four bytes per command,
``A0 <channel 1..4> <00 off | 01 on> <checksum = sum of the first three, mod 256>``, e.g.
``A0 01 01 A2`` closes relay 1 and ``A0 01 00 A1`` opens it again.
"""

from __future__ import annotations

import termios
import threading

from menwei.errors import MenweiError

START = 0xA0
BAUD = 9600
MAX_CHANNEL = 4


class RelayError(MenweiError):
    code = "relay_error"


def frame(channel: int, on: bool) -> bytes:
    """The command that switches `channel` (1-based) on or off."""
    if not 1 <= channel <= MAX_CHANNEL:
        raise ValueError(f"relay channel must be 1..{MAX_CHANNEL} (got {channel})")
    body = bytes([START, channel, 1 if on else 0])
    return body + bytes([sum(body) & 0xFF])


def parse_frame(data: bytes) -> tuple[int, bool]:
    """(channel, on) of one command; ValueError for anything a board would ignore."""
    if len(data) != 4 or data[0] != START or data[2] not in (0, 1) or (sum(data[:3]) & 0xFF) != data[3]:
        raise ValueError(f"not an LCUS relay command: {data.hex(' ')}")
    return data[1], data[2] == 1


class Ch340Relay:
    """One relay of a board on a serial port (pyserial); `set(True)` energises the coil."""

    def __init__(self, port: str, channel: int = 1, *, serial_factory=None):
        frame(channel, False)  # validates the channel before the port is opened
        self.port, self.channel = port, channel
        if serial_factory is None:
            import serial

            def serial_factory(p):
                return serial.Serial(p, BAUD, bytesize=8, parity="N", stopbits=1, timeout=1, write_timeout=1)
        try:
            self._serial = serial_factory(port)
        except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
            raise RelayError(f"relay board on {port}: cannot open it: {exc}") from None
        self._lock = threading.Lock()

    def set(self, on: bool) -> bytes:
        data = frame(self.channel, on)
        with self._lock:
            try:
                self._serial.write(data)
                self._serial.flush()
            except (OSError, ValueError, termios.error) as exc:  # unplugged mid-run (flush's tcdrain: termios)
                raise RelayError(f"relay board on {self.port}: write failed: {exc}") from None
        return data

    def close(self) -> None:
        with self._lock:
            self._serial.close()
