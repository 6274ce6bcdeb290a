"""The door as the agent drives it: open for N ms, and its state. `dry-run` records what it
would do; `ch340` drives a USB relay board (edge/door/ch340.py) and `gpio` a relay on the box's
own pins (edge/door/gpio.py), both through edge/door/relay.py."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Actuation:
    at: float  # time.time() of the command
    duration_ms: int
    cause: str  # "granted", "remote_open", "local_open", ...
    event_seq: int | None  # the outbox seq of the entry event that justified it


ACTUATIONS_KEPT = 1000  # the last ones, for status and tests; a gate runs for months


class ActuationLog:
    """The door's recent actuations (a bounded log: a gate runs for months)."""

    def __init__(self):
        self._actuations: deque[Actuation] = deque(maxlen=ACTUATIONS_KEPT)

    def _log(self, a: Actuation) -> None:
        self._actuations.append(a)

    @property
    def actuations(self) -> list[Actuation]:
        return list(self._actuations)


class Door(Protocol):
    name: str

    def open(self, duration_ms: int, cause: str, event_seq: int | None = None) -> None: ...

    def hold(self, released: bool, cause: str) -> None: ...  # released until hold(False) (fire alarm)

    def state(self) -> str: ...  # "closed" | "open" | "error"

    def close(self) -> None: ...


class DryRunDoor(ActuationLog):
    """Records every actuation (for tests, replays and a gate being installed); opens nothing."""

    name = "dry-run"

    def __init__(self, clock=time.time):
        self._clock = clock
        self._lock = threading.Lock()
        super().__init__()
        self._open_until = 0.0
        self._held = False

    def hold(self, released: bool, cause: str) -> None:
        with self._lock:
            if released and not self._held:
                self._log(Actuation(self._clock(), 0, cause, None))
            self._held = released

    def open(self, duration_ms: int, cause: str, event_seq: int | None = None) -> None:
        if duration_ms <= 0:
            raise ValueError("duration_ms must be > 0")
        now = self._clock()
        with self._lock:
            self._log(Actuation(now, duration_ms, cause, event_seq))
            self._open_until = max(self._open_until, now + duration_ms / 1000)

    def state(self) -> str:
        with self._lock:
            return "open" if self._held or self._clock() < self._open_until else "closed"

    def close(self) -> None:
        pass


def open_door(section) -> Door:
    """The door a gate file's `door:` section names (edge/agent/config.py DoorSection)."""
    if section.driver == "dry-run":
        return DryRunDoor()
    from edge.door.relay import RelayDoor

    if section.driver == "gpio":
        from edge.door.gpio import GpioRelay, LineSpec

        relay = GpioRelay(section.chip, LineSpec(section.line, active_low=section.active_low))
        return RelayDoor(relay, name=f"gpio:{section.chip}#{section.line}")
    from edge.door.ch340 import Ch340Relay
    from edge.door.profiles import load_door_profile

    profile = load_door_profile(section.profile) if section.profile else None
    channel = section.channel or (profile.channel if profile else 1)
    return RelayDoor(Ch340Relay(section.port, channel), name=f"ch340:{section.port}#{channel}")
