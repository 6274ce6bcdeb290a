"""A door behind a relay: `open(ms)` releases the lock and a timer locks it again.

The relay is energised to release, whatever the lock: a fail-secure strike is wired to the
normally-open contact (power releases it), a fail-safe maglock to the normally-closed one (power
cut releases it, and so does a power failure or an unplugged board, as fire codes require).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from edge.door.base import Actuation, ActuationLog

log = logging.getLogger(__name__)


class Relay(Protocol):
    def set(self, on: bool) -> bytes | None: ...

    def close(self) -> None: ...


class RelayDoor(ActuationLog):
    def __init__(self, relay: Relay, name: str, clock=time.monotonic):
        self.relay, self.name = relay, name
        self._clock = clock
        self._cond = threading.Condition()
        self._release_until: float | None = None  # monotonic deadline while released
        self._held = False  # released until hold(False), whatever the deadline (fire alarm)
        self._closed = False
        super().__init__()
        self.last_error: str | None = None
        self.relay.set(False)  # a known state at start: locked
        self._thread = threading.Thread(target=self._relock_loop, name=f"door-{name}", daemon=True)
        self._thread.start()

    def open(self, duration_ms: int, cause: str, event_seq: int | None = None) -> None:
        if duration_ms <= 0:
            raise ValueError("duration_ms must be > 0")
        with self._cond:
            was_released = self._release_until is not None
            self._release_until = max(self._release_until or 0.0, self._clock() + duration_ms / 1000)
            self._log(Actuation(time.time(), duration_ms, cause, event_seq))
            if not was_released and not self._held:
                self._switch(True)
            self._cond.notify_all()

    def hold(self, released: bool, cause: str) -> None:
        with self._cond:
            if released == self._held:
                return
            self._held = released
            if released:
                self._log(Actuation(time.time(), 0, cause, None))
                if self._release_until is None:
                    self._switch(True)
            elif self._release_until is None:
                self._switch(False)
            self._cond.notify_all()

    def state(self) -> str:
        with self._cond:
            if self.last_error:
                return "error"
            return "open" if self._held or self._release_until is not None else "closed"

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(5)
        self.relay.close()

    def _switch(self, on: bool) -> None:  # caller holds the condition
        try:
            self.relay.set(on)
            self.last_error = None
        except Exception as exc:  # noqa: BLE001 - a board unplugged mid-run must not stop the gate
            self.last_error = getattr(exc, "message", str(exc))
            log.error("door %s: %s", self.name, self.last_error)

    def _relock_loop(self) -> None:
        with self._cond:
            while True:
                if self._release_until is not None and self._clock() >= self._release_until:
                    self._release_until = None
                    if not self._held:
                        self._switch(False)
                if self._closed:
                    if self._release_until is not None or self._held:
                        self._release_until, self._held = None, False
                        self._switch(False)  # never leave a door released behind a stopped agent
                    return
                timeout = None if self._release_until is None else max(0.0, self._release_until - self._clock())
                self._cond.wait(timeout)
