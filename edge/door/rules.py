"""Access rules of one door, as access-control standards fix them (GB 50396, IEC 60839-11-1):
a pure state machine fed with what happens at the door, answering with what the door must do
and which alarms to raise. No I/O and no clock of its own: the caller passes the time, so every
rule is tested at its exact boundaries.

- A fire alarm releases the door at once and holds it released while it lasts; it overrides
  everything (no forced-open or held-open alarm while it is active).
- A grant (recognised resident, remote or local open, pass) releases the door for `release_s`.
- The exit button releases it for `exit_release_s` and is logged.
- The door contact opening while the lock is not released (no grant, no exit, no fire) is a
  forced-open alarm.
- The door standing open `held_prealarm_s` after it opened is a pre-alarm; after `held_alarm_s`,
  an alarm; each once per opening. Closing ends the episode.
- Anti-passback for the gate pair of one box: a person who entered may not enter again before
  leaving. `soft` logs it and lets them in, `hard` refuses. The in and the out gate of a pair are
  two agents on one box; they share the last passages through a PassbackStore (a small SQLite
  file both name in their gate files, edge/door/passback.py). A passage older than
  `anti_passback_reset_s` no longer counts: people also leave through doors without a gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DoorAlarm(StrEnum):
    FIRE_ALARM = "fire_alarm"
    FORCED_OPEN = "forced_open"
    HELD_OPEN_PREALARM = "held_open_prealarm"
    HELD_OPEN = "held_open"


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    release_s: float = Field(3.0, gt=0, le=60, description="a grant releases the lock this long")
    exit_release_s: float = Field(5.0, gt=0, le=60, description="the exit button releases it this long")
    held_prealarm_s: float = Field(15.0, gt=0, le=600, description="open this long after the release: pre-alarm")
    held_alarm_s: float = Field(30.0, gt=0, le=1800, description="open this long after the release: alarm")
    anti_passback: Literal["off", "soft", "hard"] = "off"
    anti_passback_reset_s: float = Field(12 * 3600, gt=0, le=7 * 86400,
                                         description="a passage older than this no longer counts")

    @model_validator(mode="after")
    def _order(self) -> RulesConfig:
        if self.held_alarm_s <= self.held_prealarm_s:
            raise ValueError("held_alarm_s must be longer than held_prealarm_s")
        return self


@dataclass(frozen=True)
class Outcome:
    """What the door must do now, and what to record."""

    release_until: float | None  # the lock stays released until then (None: locked)
    alarms: tuple[DoorAlarm, ...] = ()
    logged: tuple[str, ...] = ()  # events worth an entry in the log without an alarm ("exit_request", ...)
    allowed: bool = True  # for a grant: False when hard anti-passback refused it


class PassbackStore(Protocol):
    def last(self, person: str) -> tuple[str, float] | None: ...  # (direction, at) of the last passage

    def record(self, person: str, direction: str, at: float) -> None: ...


class MemoryPassbackStore:
    """One agent's own memory (a gate with no partner on the box)."""

    def __init__(self):
        self._last: dict[str, tuple[str, float]] = {}

    def last(self, person: str) -> tuple[str, float] | None:
        return self._last.get(person)

    def record(self, person: str, direction: str, at: float) -> None:
        self._last[person] = (direction, at)


@dataclass
class DoorRules:
    config: RulesConfig = field(default_factory=RulesConfig)
    passages: PassbackStore = field(default_factory=MemoryPassbackStore)
    fire: bool = False
    door_open: bool = False
    _release_until: float | None = None
    _opened_at: float | None = None  # when the current opening began
    _held_stage: int = 0  # 0 none, 1 pre-alarm raised, 2 alarm raised (per opening)

    # ---- inputs
    def passback(self, now: float, person: str | None, direction: str) -> Literal["soft", "hard"] | None:
        """Would letting `person` through this way break anti-passback? Changes nothing, so the
        caller can record a hard refusal before anything happens at the door."""
        if person is None or self.config.anti_passback == "off":
            return None
        last = self.passages.last(person)
        if last is None or now - last[1] > self.config.anti_passback_reset_s:
            return None
        return self.config.anti_passback if last[0] == direction else None  # the same way twice

    def grant(self, now: float, person: str | None = None, direction: str = "in",
              release_s: float | None = None) -> Outcome:
        """A decision or a remote/local open wants the door released (`release_s`: this grant's
        own time, e.g. the server's door_open_ms; default the config's)."""
        logged: tuple[str, ...] = ()
        breach = self.passback(now, person, direction)
        if breach == "hard":
            return Outcome(self._released(now), logged=("passback",), allowed=False)
        if breach == "soft":
            logged = ("passback",)
        if person is not None and self.config.anti_passback != "off":
            self.passages.record(person, direction, now)
        self._release(now, self.config.release_s if release_s is None else release_s)
        return Outcome(self._released(now), logged=logged)

    def exit_button(self, now: float) -> Outcome:
        self._release(now, self.config.exit_release_s)
        return Outcome(self._released(now), logged=("exit_request",))

    def fire_alarm(self, now: float, active: bool) -> Outcome:
        changed, self.fire = self.fire != active, active
        if changed and not active and self.door_open:  # the held-open time starts when the alarm ends
            self._opened_at, self._held_stage = now, 0
        alarms = (DoorAlarm.FIRE_ALARM,) if changed and active else ()
        return Outcome(self._released(now), alarms, ("fire_alarm_cleared",) if changed and not active else ())

    def contact(self, now: float, is_open: bool) -> Outcome:
        """The door contact changed (True: the leaf is open)."""
        alarms: tuple[DoorAlarm, ...] = ()
        if is_open and not self.door_open:
            self._opened_at, self._held_stage = now, 0
            if not self.fire and self._released(now) is None:
                alarms = (DoorAlarm.FORCED_OPEN,)
        elif not is_open:
            self._opened_at, self._held_stage = None, 0
        self.door_open = is_open
        return Outcome(self._released(now), alarms)

    def baseline(self, now: float, is_open: bool) -> None:
        """The contact's state at start: no forced-open alarm for a door found open, but it is
        held open from now on if it stays so."""
        self.door_open = is_open
        self._opened_at, self._held_stage = (now if is_open else None), 0

    def tick(self, now: float) -> Outcome:
        """Time passes: the release may end, a door left open becomes an alarm."""
        alarms: list[DoorAlarm] = []
        if self.door_open and not self.fire and self._opened_at is not None:
            since = now - self._opened_at
            if self._held_stage < 1 and since >= self.config.held_prealarm_s:
                self._held_stage = 1
                alarms.append(DoorAlarm.HELD_OPEN_PREALARM)
            if self._held_stage < 2 and since >= self.config.held_alarm_s:
                self._held_stage = 2
                alarms.append(DoorAlarm.HELD_OPEN)
        return Outcome(self._released(now), tuple(alarms))

    # ---- state
    def _release(self, now: float, seconds: float) -> None:
        self._release_until = max(self._release_until or now, now + seconds)

    def _released(self, now: float) -> float | None:
        if self.fire:
            return float("inf")  # released for as long as the fire alarm lasts
        if self._release_until is not None and now >= self._release_until:
            self._release_until = None
        return self._release_until
