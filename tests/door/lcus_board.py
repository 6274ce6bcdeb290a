"""An LCUS relay board on a pseudo-terminal: its microcontroller's side of the serial protocol.

It reads the bytes the driver writes to the pty, takes four-byte commands as the board does
(start byte A0, channel, 00/01, checksum), ignores anything else, and keeps each relay's state
with the time it changed.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty


class LcusBoard:
    def __init__(self, channels: int = 1):
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.channels = channels
        self.relay = dict.fromkeys(range(1, channels + 1), False)
        self.switches: list[tuple[float, int, bool]] = []  # (monotonic time, channel, on)
        self.raw = bytearray()
        self.ignored = 0  # bytes that were not part of a valid command
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            # select with a timeout, so unplug() can stop this thread before the fd number is
            # closed and handed to the next board (a read on a reused fd would steal its bytes)
            if not select.select([self._master], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(self._master, 64)
            except OSError:
                return
            if not chunk:
                return
            self.raw += chunk
            buf += chunk
            while len(buf) >= 4:
                cmd = bytes(buf[:4])
                if cmd[0] == 0xA0 and cmd[2] in (0, 1) and (cmd[0] + cmd[1] + cmd[2]) & 0xFF == cmd[3] \
                        and 1 <= cmd[1] <= self.channels:
                    del buf[:4]
                    with self._changed:
                        self.relay[cmd[1]] = cmd[2] == 1
                        self.switches.append((time.monotonic(), cmd[1], cmd[2] == 1))
                        self._changed.notify_all()
                else:
                    del buf[:1]
                    self.ignored += 1

    def wait_switches(self, n: int, timeout: float = 5.0) -> list[tuple[float, int, bool]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.switches) >= n, timeout)
            return list(self.switches)

    def unplug(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
