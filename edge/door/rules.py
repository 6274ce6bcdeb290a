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
  leaving. `soft` logs it and lets them in, `hard` refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

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


@dataclass
class DoorRules:
    config: RulesConfig = field(default_factory=RulesConfig)
    fire: bool = False
    door_open: bool = False
    _release_until: float | None = None
    _opened_at: float | None = None  # when the current opening began
    _held_stage: int = 0  # 0 none, 1 pre-alarm raised, 2 alarm raised (per opening)
    _inside: dict[str, bool] = field(default_factory=dict)  # person -> last passage was "in"

    # ---- inputs
    def grant(self, now: float, person: str | None = None, direction: str = "in") -> Outcome:
        """A decision or a remote/local open wants the door released."""
        logged: tuple[str, ...] = ()
        if person is not None and self.config.anti_passback != "off":
            entering = direction == "in"
            if self._inside.get(person) == entering:  # the same way twice without the other
                if self.config.anti_passback == "hard":
                    return Outcome(self._released(now), logged=("passback",), allowed=False)
                logged = ("passback",)
            self._inside[person] = entering
        self._release(now, self.config.release_s)
        return Outcome(self._released(now), logged=logged)

    def exit_button(self, now: float) -> Outcome:
        self._release(now, self.config.exit_release_s)
        return Outcome(self._released(now), logged=("exit_request",))

    def fire_alarm(self, now: float, active: bool) -> Outcome:
        changed, self.fire = self.fire != active, active
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
