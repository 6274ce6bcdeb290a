"""Alert rows the ingest writes: per entry (from reconciliation), gate offline, and overrides that
no remote open sent from the server accounts for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from menwei.wire import CommandKind, EntryEvent
from server.db.models import Alert, AlertKind, GateCommand
from server.reconcile.door_events import is_local_open
from server.reconcile.inline import Reconciled

OVERRIDE_WITHOUT_COMMAND = "override_without_command"


def _row(kind: AlertKind, site_id: str, gate_id: str, created_at: datetime, detail: dict,
         entry_id: int | None = None, resident_id: str | None = None) -> dict:
    return {"kind": kind, "entry_id": entry_id, "site_id": site_id, "gate_id": gate_id, "resident_id": resident_id,
            "created_at": created_at, "acknowledged_by": None, "acknowledged_at": None, "detail": detail}


def entry_alert_rows(event: EntryEvent, entry_id: int, rec: Reconciled, received_at: datetime) -> list[dict]:
    return [_row(kind, event.site_id, event.gate_id, received_at, {**detail, "event_id": str(event.event_id)},
                 entry_id=entry_id, resident_id=resident_id)
            for kind, resident_id, detail in rec.alerts]


def insert_alerts(session: Session, rows: list[dict]) -> int:
    if rows:
        session.execute(insert(Alert.__table__), rows)
    return len(rows)


def gate_offline_alert(session: Session, site_id: str, gate_id: str, status: dict, now: datetime) -> None:
    insert_alerts(session, [_row(AlertKind.GATE_OFFLINE, site_id, gate_id, now, {"status": status})])


def outbox_full_alert(session: Session, site_id: str, gate_id: str, telemetry: dict, now: datetime) -> None:
    insert_alerts(session, [_row(AlertKind.OUTBOX_FULL, site_id, gate_id, now, {"telemetry": telemetry})])


def unmatched_overrides(session: Session, events: Sequence[EntryEvent], window: timedelta) -> set[int]:
    """Indexes of events whose ``override`` no remote open accounts for.

    An override is only ever the result of ``POST /gates/{id}/commands {"kind": "open"}`` (stored
    in ``gate_commands`` before it is sent): the same gate, the same operator, issued within
    ``window`` of the capture time (either side: gate clocks drift). Anything else is a forged or
    replayed claim and must not silence the alert the passage would otherwise raise. A local open
    (the gate's own page) has no command to match: it raises its own local_open alert instead.
    """
    wanted = [i for i, e in enumerate(events) if e.override is not None and not is_local_open(e)]
    if not wanted:
        return set()
    lo = min(events[i].captured_at for i in wanted) - window
    hi = max(events[i].captured_at for i in wanted) + window
    rows = session.execute(select(GateCommand.gate_id, GateCommand.operator, GateCommand.issued_at).where(
        GateCommand.gate_id.in_({events[i].gate_id for i in wanted}), GateCommand.kind == CommandKind.OPEN.value,
        GateCommand.issued_at >= lo, GateCommand.issued_at <= hi)).all()
    unmatched = set()
    for i in wanted:
        e = events[i]
        if not any(g == e.gate_id and op == e.override.operator and abs(at - e.captured_at) <= window
                   for g, op, at in rows):
            unmatched.add(i)
    return unmatched


def flag_unmatched_overrides(session: Session, events: Sequence[EntryEvent], recs: list[Reconciled],
                             window: timedelta) -> None:
    """Give back the unknown-person alert that a forged override suppressed (reconcile_batch skips
    it for any override), naming the claimed operator so a guard can check."""
    for i in unmatched_overrides(session, events, window):
        e = events[i]
        if e.person.resident_id is None:
            recs[i].alerts.append((AlertKind.UNKNOWN_PERSON, None, {
                "decision": e.decision.value, "direction": e.direction.value, "reason": OVERRIDE_WITHOUT_COMMAND,
                "operator": e.override.operator}))
