"""One door run by its rules: the relay follows DoorRules, the inputs are polled, and what the
rules raise comes out as DoorEvents for the agent to record.

Two threads touch the rules: the agent's loop (grants) and the poll thread (contacts, exit
button, fire alarm, time passing). One lock keeps them consistent. Safety comes before the record
here, unlike a grant: the exit button and a fire alarm release the door at once, and their event
is recorded right after (a person must get out even when the outbox is full).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge.door.base import Door
from edge.door.gpio import InputStates
from edge.door.rules import DoorRules, Outcome
from menwei.errors import MenweiError
from menwei.wire import Reason

log = logging.getLogger(__name__)


class DoorInputs(Protocol):
    def read(self) -> InputStates: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DoorEvent:
    reason: Reason  # fire_alarm, fire_alarm_cleared, forced_open, held_open_prealarm, held_open, exit_request
    at: float  # time.time()


@dataclass(frozen=True)
class GrantResult:
    allowed: bool
    passback: bool  # anti-passback was breached (soft: let through and logged; hard: refused)


class DoorController:
    def __init__(self, door: Door, rules: DoorRules, inputs: DoorInputs | None = None, *,
                 on_event: Callable[[DoorEvent], None] = lambda e: None, poll_s: float = 0.02,
                 clock: Callable[[], float] = time.monotonic):
        self.door, self.rules, self.inputs = door, rules, inputs
        self._on_event, self._poll_s, self._clock = on_event, poll_s, clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last_inputs = InputStates(None, None, None)
        self.input_error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> DoorController:
        self._thread = threading.Thread(target=self._poll_loop, name="door-inputs", daemon=True)
        self._thread.start()
        return self

    # ---- grants, from the agent's loop
    def check(self, person: str | None, direction: str) -> GrantResult:
        """Before the event is recorded: would this grant be refused (hard anti-passback)?"""
        with self._lock:
            breach = self.rules.passback(self._clock(), person, direction)
        return GrantResult(allowed=breach != "hard", passback=breach is not None)

    def grant(self, duration_ms: int, cause: str, event_seq: int | None, person: str | None = None,
              direction: str = "in") -> GrantResult:
        """Release the door for a recorded grant (the relay is switched before this returns)."""
        with self._lock:
            out = self.rules.grant(self._clock(), person, direction, release_s=duration_ms / 1000)
        if out.allowed:
            self.door.open(duration_ms, cause, event_seq)
        return GrantResult(out.allowed, "passback" in out.logged)

    # ---- the inputs and the clock, from the poll thread
    def poll_once(self) -> None:
        now = self._clock()
        outcomes: list[Outcome] = []
        states = self._read()
        with self._lock:
            prev = self._last_inputs
            if states.fire_alarm is not None and states.fire_alarm != bool(prev.fire_alarm):
                outcomes.append(self.rules.fire_alarm(now, states.fire_alarm))
                self.door.hold(states.fire_alarm, "fire_alarm")
            if states.exit_pressed and not prev.exit_pressed:  # the press, not the holding
                out = self.rules.exit_button(now)
                self.door.open(int(self.rules.config.exit_release_s * 1000), "exit_request", None)
                outcomes.append(out)
            if states.door_open is not None and prev.door_open is None:
                self.rules.baseline(now, states.door_open)
            elif states.door_open is not None and states.door_open != prev.door_open:
                outcomes.append(self.rules.contact(now, states.door_open))
            outcomes.append(self.rules.tick(now))
            self._last_inputs = states
        at = time.time()
        for out in outcomes:
            for alarm in out.alarms:
                self._emit(DoorEvent(Reason(alarm.value), at))
            for logged in out.logged:
                self._emit(DoorEvent(Reason(logged), at))

    def _read(self) -> InputStates:
        if self.inputs is None:
            return InputStates(None, None, None)
        try:
            states = self.inputs.read()
        except MenweiError as exc:
            if self.input_error != exc.message:
                log.error("door inputs: %s", exc.message)
            self.input_error = exc.message
            return self._last_inputs  # an input that cannot be read changes nothing
        self.input_error = None
        return states

    def _emit(self, event: DoorEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001 - the poll thread must outlive a bad callback
            log.exception("door event %s could not be handed over", event.reason.value)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.poll_once()

    # ---- state
    def state(self) -> dict:
        with self._lock:
            s = self._last_inputs
            return {"lock": self.door.state(), "door_open": s.door_open, "exit_pressed": s.exit_pressed,
                    "fire_alarm": self.rules.fire, "inputs_error": self.input_error}

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self.inputs is not None:
            self.inputs.close()
        self.door.close()


def open_rules(section, data_dir) -> DoorRules:
    """The rules a gate file's `door:` section sets, with its anti-passback memory."""
    from pathlib import Path

    from edge.door.passback import SqlitePassbackStore

    if section.rules.anti_passback == "off":
        return DoorRules(section.rules)
    path = section.passback_file or Path(data_dir) / "passback.sqlite"
    return DoorRules(section.rules, passages=SqlitePassbackStore(path))


def open_inputs(section, request_lines=None) -> DoorInputs | None:
    """The door's contacts on GPIO (`door.inputs`), or None when none is wired."""
    if section.inputs is None:
        return None
    from edge.door.gpio import GpioInputs, LineSpec

    s = section.inputs

    def spec(line):
        return None if line is None else LineSpec(line.line, active_low=line.active_low, pull=line.pull)

    return GpioInputs(s.chip, door_contact=spec(s.door_contact), exit_button=spec(s.exit_button),
                      fire_alarm=spec(s.fire_alarm), request_lines=request_lines)
