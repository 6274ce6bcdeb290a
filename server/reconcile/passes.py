"""Visitor passes in reconciliation: the server checks a pass the gate accepted against its own
record (menwei/passes.py is the gate's offline check; this is the one a gate cannot fake).

A gate is trusted with its own compound and nothing more: a pass the server did not issue, or
issued for another compound, is "unknown" alike (no answer tells a gate whether another
compound's pass exists), and a revocation counts from the moment it was made, so a visit made
before it stays a valid one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from menwei.wire import EntryEvent
from server.db.models import AlertKind, Household, Resident, VisitorPass


@dataclass(frozen=True)
class PassView:
    id: uuid.UUID
    site_id: str
    host_resident_id: str
    gates: list[str]
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None
    household_id: int | None  # the host's
    unit_id: int | None


@dataclass
class PassOutcome:
    """What an entry with a visitor pass gets: its columns, the host's household (a valid
    accepted pass only: the visit was to them) and its alerts."""

    visitor_pass_id: uuid.UUID | None = None
    pass_host_resident_id: str | None = None
    pass_refused: str | None = None
    household_id: int | None = None
    unit_id: int | None = None
    valid: bool = False  # accepted by the gate and valid on the server: nobody unknown came in
    alerts: list[tuple[AlertKind, str | None, dict]] = field(default_factory=list)


def load_passes(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, PassView]:
    if not ids:
        return {}
    rows = session.execute(
        select(VisitorPass.id, VisitorPass.site_id, VisitorPass.host_resident_id, VisitorPass.gates,
               VisitorPass.valid_from, VisitorPass.valid_until, VisitorPass.revoked_at, Resident.household_id,
               Household.unit_id)
        .outerjoin(Resident, Resident.id == VisitorPass.host_resident_id)
        .outerjoin(Household, Household.id == Resident.household_id)
        .where(VisitorPass.id.in_(ids))).all()
    return {r.id: PassView(r.id, r.site_id, r.host_resident_id, list(r.gates or ()), *r[4:]) for r in rows}


def server_refusal(view: PassView | None, e: EntryEvent) -> str | None:
    """Why the server does not hold this use valid (unknown, revoked, outside_window, wrong_gate), or None."""
    if view is None or view.site_id != e.site_id:
        return "unknown"
    if view.revoked_at is not None and view.revoked_at <= e.captured_at:
        return "revoked"
    if not view.valid_from <= e.captured_at < view.valid_until:
        return "outside_window"
    if view.gates and e.gate_id not in view.gates:
        return "wrong_gate"
    return None


def reconcile_pass(e: EntryEvent, views: dict[uuid.UUID, PassView], base: dict) -> PassOutcome:
    use = e.visitor_pass
    pid = use.pass_id
    view = views.get(pid) if pid is not None else None
    own = view if view is not None and view.site_id == e.site_id else None  # another compound's: never named
    out = PassOutcome(visitor_pass_id=pid, pass_refused=use.refused,
                      pass_host_resident_id=own.host_resident_id if own else None)
    named = {"pass_id": str(pid) if pid else None, "reported_host_resident_id": use.host_resident_id}
    if use.refused is not None:  # nobody came in: the office sees the attempt, not an unknown person
        out.alerts.append((AlertKind.PASS_REFUSED, None, {**base, "code": use.refused, **named}))
        return out
    why = server_refusal(view, e)
    if why is None:
        out.valid, out.household_id, out.unit_id = True, own.household_id, own.unit_id
    else:
        out.alerts.append((AlertKind.PASS_UNKNOWN, None, {**base, "reason": why, **named}))
    return out
