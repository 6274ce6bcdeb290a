"""systemd's notify protocol (sd_notify(3)): READY=1 once the service works, WATCHDOG=1 while it
keeps working, STOPPING=1 on the way out. With ``WatchdogSec=`` in the unit, systemd restarts a
service whose pings stop, which catches a hung loop that a plain ``Restart=`` never sees.

Written here rather than taken from a package: the protocol is one datagram per message on the
socket systemd names in $NOTIFY_SOCKET, and the packages that wrap it need libsystemd headers to
build (systemd-python) or are unmaintained. Outside systemd (no $NOTIFY_SOCKET) every call is a
no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


class ServiceNotifier:
    def __init__(self, address: str | None, watchdog_s: float | None, clock=time.monotonic):
        # "@name" is an abstract socket: the name starts with a NUL byte
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        self.watchdog_s = watchdog_s
        self._clock = clock
        self._last_ping = float("-inf")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ServiceNotifier:
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())  # a child of the service must not ping for it
        watchdog = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None
        return cls(env.get("NOTIFY_SOCKET") or None, watchdog)

    @property
    def active(self) -> bool:
        return self.address is not None

    def send(self, message: str) -> bool:
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto(message.encode(), self.address)
            return True
        except OSError as exc:  # systemd gone or restarting: the service itself goes on
            log.warning("sd_notify %s failed: %s", message.split("=", 1)[0], exc)
            return False

    def ready(self, status: str | None = None) -> None:
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def ping(self) -> None:
        """Call from the loop that must not hang; sends at most twice per watchdog period."""
        if self.watchdog_s is None:
            return
        now = self._clock()
        if now - self._last_ping >= self.watchdog_s / 2:
            self._last_ping = now
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")
