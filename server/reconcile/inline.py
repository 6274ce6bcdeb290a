"""In-transaction reconciliation of a batch of new entries with the registry.

Runs before the batch insert so the reconciled columns go in with the row (one INSERT, no
follow-up UPDATE); the caller keeps only the results of rows that were really inserted
(duplicates are not reconciled twice). Two queries per batch, whatever its size.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from menwei.wire import EntryEvent, TemperatureStatus
from server.db.models import AlertKind, Entry, Household, MatchedBy, Resident
from server.reconcile.door_events import door_alarm_alerts, is_door_event, is_local_open, local_open_alert
from server.reconcile.passes import load_passes, reconcile_pass
from server.reconcile.rules import ResidentView, status_violation


@dataclass(frozen=True)
class ReconcileContext:
    double_entry_window: timedelta = timedelta(hours=12)


@dataclass
class Reconciled:
    # the person the entry is linked to: the gate's claim, kept only if she lives in the entry's
    # compound (a gate is trusted with its own compound's registry, nothing more)
    resident_id: str | None = None
    household_id: int | None = None
    unit_id: int | None = None
    matched_by: MatchedBy | None = None
    # a visitor pass (server/reconcile/passes.py); the host's household fills household_id/unit_id
    visitor_pass_id: uuid.UUID | None = None
    pass_host_resident_id: str | None = None
    pass_refused: str | None = None
    # (kind, resident_id, detail) — resident_id may differ from the event's when re-matched later
    alerts: list[tuple[AlertKind, str | None, dict]] = field(default_factory=list)


def load_residents(session: Session, ids: set[str]) -> dict[str, ResidentView]:
    """The registry records reconciliation needs, by resident id (the one lookup, here and in re-match)."""
    if not ids:
        return {}
    rows = session.execute(
        select(Resident.id, Resident.site_id, Resident.household_id, Household.unit_id, Resident.status,
               Resident.valid_from, Resident.valid_until, Resident.quarantine_from, Resident.quarantine_until)
        .outerjoin(Household, Household.id == Resident.household_id)
        .where(Resident.id.in_(ids))
    ).all()
    return {r.id: ResidentView(*r) for r in rows}


def _movements(session: Session, events: Sequence[EntryEvent], people: set[str], window: timedelta) -> list[tuple]:
    """Stored movements that can precede the batch's: for each person and site, the last one before
    the batch (within the window), plus any inside the batch's time span (late arrivals)."""
    if not people:
        return []
    start = min(e.captured_at for e in events)
    lo, hi = start - window, max(e.captured_at for e in events)
    cols = (Entry.event_id, Entry.resident_id, Entry.site_id, Entry.direction, Entry.captured_at)
    # a window function keeps the answer to one row per person and site, however busy they were
    ranked = (select(*cols, func.row_number().over(partition_by=(Entry.resident_id, Entry.site_id),
                                                   order_by=(Entry.captured_at.desc(), Entry.id.desc()))
                     .label("rn"))
              .where(Entry.resident_id.in_(people), Entry.captured_at >= lo, Entry.captured_at < start)
              .subquery())
    before = session.execute(select(ranked.c.event_id, ranked.c.resident_id, ranked.c.site_id, ranked.c.direction,
                                    ranked.c.captured_at).where(ranked.c.rn == 1)).all()
    during = session.execute(select(*cols).where(Entry.resident_id.in_(people), Entry.captured_at >= start,
                                                 Entry.captured_at <= hi)).all()
    return [*before, *during]


def _double_entries(session: Session, events: Sequence[EntryEvent], linked: Sequence[str | None],
                    window: timedelta) -> dict[int, dict]:
    """Index in ``events`` → detail, for each 'in' whose previous movement at that site was an 'in'.

    Bounded by a window: people also leave through doors without a gate, so an 'in' from days
    ago says nothing about today.
    """
    timeline: dict[tuple[str, str], dict] = {}
    for event_id, resident_id, site_id, direction, at in _movements(session, events, {r for r in linked if r},
                                                                    window):
        timeline.setdefault((resident_id, site_id), {})[event_id] = (at, direction, None)
    for i, (e, rid) in enumerate(zip(events, linked, strict=True)):
        if rid:
            timeline.setdefault((rid, e.site_id), {})[e.event_id] = (
                e.captured_at, e.direction.value, i)
    found: dict[int, dict] = {}
    for moves in timeline.values():
        ordered = sorted(moves.items(), key=lambda kv: (kv[1][0], str(kv[0])))
        for (prev_id, (prev_at, prev_dir, _)), (_cur_id, (at, direction, idx)) in zip(ordered, ordered[1:],
                                                                                       strict=False):
            if idx is None or direction != "in" or prev_dir != "in" or at - prev_at > window:
                continue
            found[idx] = {"previous_event_id": str(prev_id), "previous_at": prev_at.isoformat()}
    return found


def reconcile_batch(session: Session, events: Sequence[EntryEvent], ctx: ReconcileContext) -> list[Reconciled]:
    """One Reconciled per event (same order)."""
    residents = load_residents(session, {e.person.resident_id for e in events if e.person.resident_id})
    # a claimed id that is unknown or lives in another compound is treated alike (and alerted
    # alike), so a gate cannot link entries to, or probe for, people outside its compound
    linked = [rid if (rid := e.person.resident_id) and rid in residents and residents[rid].site_id == e.site_id
              else None for e in events]
    doubles = _double_entries(session, events, linked, ctx.double_entry_window)
    passes = load_passes(session, {e.visitor_pass.pass_id for e in events if e.visitor_pass and e.visitor_pass.pass_id})
    out: list[Reconciled] = []
    for i, (e, rid) in enumerate(zip(events, linked, strict=True)):
        rec = Reconciled(resident_id=rid)
        base = {"decision": e.decision.value, "direction": e.direction.value}
        if rid is not None:
            r = residents[rid]
            rec.matched_by = MatchedBy.GATE
            rec.household_id, rec.unit_id = r.household_id, r.unit_id
            violation = status_violation(r, e.direction.value, e.captured_at)
            if violation is not None:
                rec.alerts.append((AlertKind.STATUS_FORBIDS, rid, {**base, **violation}))
        elif e.person.resident_id is not None:
            rec.alerts.append((AlertKind.UNKNOWN_PERSON, None, {**base, "reason": "not_in_compound",
                                                                 "reported_resident_id": e.person.resident_id}))
        elif e.visitor_pass is not None:
            p = reconcile_pass(e, passes, base)
            rec.visitor_pass_id, rec.pass_host_resident_id, rec.pass_refused = (
                p.visitor_pass_id, p.pass_host_resident_id, p.pass_refused)
            rec.household_id, rec.unit_id = p.household_id, p.unit_id
            rec.alerts += p.alerts
            if p.pass_refused is None and not p.valid:  # someone the server cannot vouch for came in
                rec.alerts.append((AlertKind.UNKNOWN_PERSON, None, {**base, "reason": "pass_unknown"}))
        elif is_door_event(e):  # nobody at the camera: the door itself reported
            rec.alerts += door_alarm_alerts(e, base)
        elif is_local_open(e):  # the guard at the gate dealt with the person; the office reviews the open
            rec.alerts.append(local_open_alert(e, base))
        elif e.override is None:
            # a guard who overrode the gate has already dealt with the person in front of them
            rec.alerts.append((AlertKind.UNKNOWN_PERSON, None, {**base, "reason": "no_match"}))
        if e.temperature.status == TemperatureStatus.FEVER:
            rec.alerts.append((AlertKind.FEVER, rid, {**base, "celsius": e.temperature.celsius,
                                                       "method": e.temperature.method,
                                                       "note": "commodity sensor: needs a clinical re-check"}))
        if i in doubles:
            rec.alerts.append((AlertKind.DOUBLE_ENTRY, rid, {**base, **doubles[i]}))
        out.append(rec)
    return out
