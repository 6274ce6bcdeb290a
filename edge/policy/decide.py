"""`decide`: evidence at the gate → one verdict with its reasons. Pure: no clock, no I/O, no state
except the GateCounters passed in and returned.

Wire mapping (menwei.wire.Decision): granted = door opens; denied = door stays shut, no alert;
alert = door stays shut AND the guard is alerted ("denied + alert" in the issue). The verdict is the
most severe of what the rules found (alert > denied > granted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.policy.config import PolicyConfig
from edge.policy.schedule import in_schedule, parse_schedule
from menwei.wire import Decision, Direction, Reason, TemperatureStatus

_SEVERITY = {Decision.GRANTED: 0, Decision.DENIED: 1, Decision.ALERT: 2}
_ON = {"deny": Decision.DENIED, "alert": Decision.ALERT}


@dataclass(frozen=True)
class Identity:
    resident_id: str
    score: float
    attributes: Mapping[str, Any] = field(default_factory=dict)  # the gallery file's entry


@dataclass(frozen=True)
class Liveness:
    live: bool | None  # None = not checked
    score: float | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    identity: Identity | None  # None = unknown face
    temperature_c: float | None
    temperature_status: TemperatureStatus
    liveness: Liveness
    direction: Direction
    at: datetime  # aware
    mask: bool | None = None


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: tuple[str, ...]
    open_door: bool


@dataclass(frozen=True)
class GateCounters:
    consecutive_failures: int = 0


def _when(v: Any) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(str(v))


def _identity_rules(config: PolicyConfig, ident: Identity, ev: Evidence) -> list[tuple[Decision, Reason]]:
    """Registry status, validity window and schedule — the same rules as server/reconcile/rules.py:
    leaving is only forbidden in home quarantine; entering is forbidden to moved-out and banned
    people, outside [valid_from, valid_until] (both inclusive) and outside the weekly schedule."""
    a = ident.attributes
    status = a.get("status")
    if ev.direction == Direction.OUT:
        if status == "quarantine":
            start, until = _when(a.get("quarantine_from")), _when(a.get("quarantine_until"))
            if (start is None or start <= ev.at) and (until is None or ev.at < until):
                return [(Decision.ALERT, Reason.QUARANTINE_EXIT)]
        return []
    if status == "moved_out":
        return [(Decision.ALERT, Reason.STATUS_MOVED_OUT)]
    if status == "banned":
        return [(Decision.ALERT, Reason.STATUS_BANNED)]
    found: list[tuple[Decision, Reason]] = []
    if status is not None and status in config.refuse_statuses:
        found.append((Decision.DENIED, Reason.CONTROL_LEVEL))
    valid_from, valid_until = _when(a.get("valid_from")), _when(a.get("valid_until"))
    if valid_from is not None and ev.at < valid_from:
        found.append((Decision.ALERT, Reason.NOT_YET_VALID))
    if valid_until is not None and ev.at > valid_until:
        found.append((Decision.ALERT, Reason.EXPIRED))
    schedule = parse_schedule(a.get("schedule"))
    if schedule is not None and not in_schedule(schedule, ev.at, config.tz):
        found.append((Decision.DENIED, Reason.OUTSIDE_SCHEDULE))
    return found


def decide(config: PolicyConfig, evidence: Evidence, counters: GateCounters) -> tuple[Verdict, GateCounters]:
    """Reasons come in a fixed order: who (recognised/unknown, status, validity, schedule), liveness,
    temperature, mask, then the gate's repeated-failures alert."""
    if evidence.at.tzinfo is None:
        raise ValueError("evidence.at must be timezone-aware")
    found: list[tuple[Decision, Reason]] = []
    ident = evidence.identity
    if ident is None:
        found.append((Decision.ALERT, Reason.UNKNOWN_FACE))
    else:
        found.append((Decision.GRANTED, Reason.RESIDENT_RECOGNISED))
        found += _identity_rules(config, ident, evidence)

    live = evidence.liveness.live
    if live is None:
        found.append((Decision.GRANTED, Reason.LIVENESS_NOT_CHECKED))
    elif live is False:
        found.append((_ON[config.liveness_failed], Reason.LIVENESS_FAILED))

    t = evidence.temperature_c
    fever = evidence.temperature_status == TemperatureStatus.FEVER or (
        t is not None and t >= config.fever_threshold_c)
    if fever:
        found.append((Decision.DENIED if config.fever == "hard" else Decision.ALERT, Reason.FEVER))
    elif t is None or evidence.temperature_status == TemperatureStatus.UNAVAILABLE:
        outcome = _ON.get(config.temperature_unavailable, Decision.GRANTED)
        found.append((outcome, Reason.TEMPERATURE_UNAVAILABLE))

    if config.mask_required and evidence.mask is False:
        found.append((Decision.DENIED, Reason.MASK_MISSING))

    # a failed match: no identity, or a face that is not live; any recognised live face resets
    failed = ident is None or live is False
    failures = counters.consecutive_failures + 1 if failed else 0
    if failures >= config.failed_matches_alert:
        found.append((Decision.ALERT, Reason.REPEATED_FAILED_MATCHES))
        failures = 0  # one alert per N failures, not one per face after the Nth

    decision = max((d for d, _ in found), key=_SEVERITY.__getitem__)
    verdict = Verdict(decision=decision, reasons=tuple(str(r) for _, r in found),
                      open_door=decision == Decision.GRANTED)
    return verdict, GateCounters(consecutive_failures=failures)
