"""A fake I2C bus speaking the MLX90640 register map at the smbus2 ``i2c_rdwr`` boundary.

Only the transport is fake: it is fed with real EEPROM and RAM words, and the driver under test
builds real smbus2 ``i2c_msg`` objects exactly as it does for /dev/i2c-N.
"""

from __future__ import annotations

import ctypes
import errno
import time

import numpy as np
from smbus2 import i2c_msg  # noqa: F401  (the type the driver hands us)

I2C_M_RD = 0x0001


class FakeMlx90640Bus:
    def __init__(self, eeprom, frames, address: int = 0x33, chunk_limit_bytes: int = 4096,
                 cycle: bool = False, period_s: float = 0.0):
        self.eeprom = np.asarray(eeprom, dtype=np.int64)
        self.frames = [np.asarray(f, dtype=np.int64) for f in frames]
        self.address = address
        self.chunk_limit = chunk_limit_bytes
        self.unplugged = False
        self.control = int(self.frames[0][832]) if self.frames else 0x1901
        self.status_writes: list[int] = []
        self._pending = 0  # index of the frame that "new data" refers to
        self.cycle = cycle  # stream the frames forever, one every period_s (a running sensor)
        self.period_s = period_s
        self._ready_at = 0.0

    # -- register map
    def _read_word(self, reg: int) -> int:
        if 0x2400 <= reg < 0x2740:
            return int(self.eeprom[reg - 0x2400]) & 0xFFFF
        if 0x0400 <= reg < 0x0740:
            if not self.frames:
                return 0
            idx = self._pending % len(self.frames) if self.cycle else min(self._pending, len(self.frames) - 1)
            f = self.frames[idx]
            return int(f[reg - 0x0400]) & 0xFFFF
        if reg == 0x8000:
            if self.cycle:
                ready = time.monotonic() >= self._ready_at
                f = self.frames[self._pending % len(self.frames)]
                return (0x0008 if ready else 0) | (int(f[833]) & 1)
            if self._pending < len(self.frames):
                return 0x0008 | (int(self.frames[self._pending][833]) & 1)
            return 0x0000
        if reg == 0x800D:
            return self.control
        raise OSError(errno.EIO, f"no register 0x{reg:04X}")

    def _write_word(self, reg: int, value: int) -> None:
        if reg == 0x8000:
            self.status_writes.append(value)
            if not value & 0x0008 and (self.cycle or self._pending < len(self.frames)):
                self._pending += 1  # host cleared "new data": the next subpage becomes available
                self._ready_at = time.monotonic() + self.period_s
        elif reg == 0x800D:
            self.control = value
        else:
            raise OSError(errno.EIO, f"register 0x{reg:04X} is not writable here")

    # -- smbus2 boundary
    def i2c_rdwr(self, *msgs) -> None:
        if self.unplugged:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        for m in msgs:
            if m.addr != self.address:
                raise OSError(errno.ENXIO, "no device at this address")
        if len(msgs) == 2 and not msgs[0].flags & I2C_M_RD and msgs[1].flags & I2C_M_RD:
            w, r = msgs
            reg_bytes = bytes(w)
            reg = (reg_bytes[0] << 8) | reg_bytes[1]
            if r.len > self.chunk_limit:
                raise OSError(errno.EINVAL, "transfer larger than the bridge allows")
            words = [self._read_word(reg + i) for i in range(r.len // 2)]
            data = b"".join(v.to_bytes(2, "big") for v in words)
            ctypes.memmove(r.buf, data, len(data))
            return
        if len(msgs) == 1 and not msgs[0].flags & I2C_M_RD:
            b = bytes(msgs[0])
            reg = (b[0] << 8) | b[1]
            self._write_word(reg, (b[2] << 8) | b[3])
            return
        raise OSError(errno.EINVAL, "unsupported transaction")
