"""Accepted entries → ``entries`` rows (reconciled columns included), their alerts, seq-reuse checks.

Entries are inserted with ``INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id``
(both dialects) so duplicates cost nothing and we learn which rows are new.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server.db.models import Entry, GateSeq
from server.ingest.alerts import entry_alert_rows, flag_unmatched_overrides, insert_alerts
from server.ingest.outcome import BatchOutcome
from server.ingest.validate import AcceptedEntry
from server.reconcile.inline import ReconcileContext, Reconciled, reconcile_batch

log = logging.getLogger(__name__)


def _entry_row(acc: AcceptedEntry, rec: Reconciled) -> dict:
    e = acc.event
    return {
        "event_id": e.event_id, "site_id": e.site_id, "gate_id": e.gate_id, "seq": e.seq,
        "captured_at": e.captured_at, "received_at": acc.msg.received_at,
        "direction": e.direction.value, "decision": e.decision.value, "reasons": list(e.reasons),
        "resident_id": rec.resident_id, "household_id": rec.household_id, "unit_id": rec.unit_id,
        "matched_by": rec.matched_by, "score": e.person.score if rec.resident_id else None, "gallery_version": e.person.gallery_version,
        "pack": e.person.pack, "mask": e.person.mask, "temperature_c": e.temperature.celsius,
        "temperature_status": e.temperature.status.value, "temperature_method": e.temperature.method,
        "face_jpeg": acc.face_jpeg,  # decoded by validate.parse (a third smaller than base64)
        "face_purged_at": None, "rematched_at": None,
        "track": e.track.model_dump() if e.track else None,
        "override": e.override.model_dump() if e.override else None,
        "visitor_pass_id": rec.visitor_pass_id, "pass_host_resident_id": rec.pass_host_resident_id,
        "pass_refused": rec.pass_refused,
        "has_alert": bool(rec.alerts),
    }


# PostgreSQL: one INSERT … SELECT FROM unnest(arrays) per batch. A multi-row VALUES statement with
# 29 parameters per row spends most of its time in client-side query parsing (14,500 placeholders
# for 500 rows); column arrays are 29 parameters whatever the batch size.
_PG_TYPES = {
    "event_id": "uuid[]", "site_id": "text[]", "gate_id": "text[]", "seq": "bigint[]",
    "captured_at": "timestamptz[]", "received_at": "timestamptz[]", "direction": "text[]",
    "decision": "text[]", "reasons": "json[]", "resident_id": "text[]", "household_id": "int[]",
    "unit_id": "int[]", "matched_by": "text[]", "score": "float8[]", "gallery_version": "int[]",
    "pack": "text[]", "mask": "bool[]", "temperature_c": "float8[]", "temperature_status": "text[]",
    "temperature_method": "text[]", "face_jpeg": "bytea[]", "face_purged_at": "timestamptz[]",
    "rematched_at": "timestamptz[]", "track": "json[]", "override": "json[]", "visitor_pass_id": "uuid[]",
    "pass_host_resident_id": "text[]", "pass_refused": "text[]", "has_alert": "bool[]",
}
_JSON_COLS = ("reasons", "track", "override")
# %b: parameters travel in binary, so 500 face crops are not hex-escaped into a text array
_PG_INSERT = (
    f"INSERT INTO entries ({', '.join(_PG_TYPES)}) "
    f"SELECT * FROM unnest({', '.join(f'%b::{t}' for t in _PG_TYPES.values())}) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id")


def _insert_pg_unnest(session: Session, rows: list[dict]) -> dict:
    params = []
    for col in _PG_TYPES:
        values = [r[col] for r in rows]
        if col in _JSON_COLS:
            values = [None if v is None else json.dumps(v) for v in values]
        elif col == "matched_by":
            values = [None if v is None else getattr(v, "value", v) for v in values]
        params.append(values)
    # the session's own connection (same transaction), used at the psycopg level for binary params
    dbapi = session.connection().connection.driver_connection
    with dbapi.cursor() as cur:
        cur.execute(_PG_INSERT, params)
        return {event_id: entry_id for entry_id, event_id in cur.fetchall()}


def _insert_rows(session: Session, rows: list[dict]) -> dict:
    if session.get_bind().dialect.name == "postgresql":
        # one lock order for every writer: concurrent batches holding the same duplicate
        # event ids then wait for each other instead of deadlocking
        return _insert_pg_unnest(session, sorted(rows, key=lambda r: r["event_id"]))
    table = Entry.__table__
    stmt = (sqlite_insert(table).on_conflict_do_nothing(index_elements=["event_id"])
            .returning(table.c.id, table.c.event_id))
    return {event_id: entry_id for entry_id, event_id in session.execute(stmt, rows).all()}


def insert_entries(session: Session, accepted: list[AcceptedEntry], out: BatchOutcome, ctx: ReconcileContext,
                   override_window: timedelta) -> None:
    events = [a.event for a in accepted]
    recs = reconcile_batch(session, events, ctx)
    flag_unmatched_overrides(session, events, recs, override_window)
    rows = [_entry_row(a, r) for a, r in zip(accepted, recs, strict=True)]
    new_ids = _insert_rows(session, rows)
    out.inserted += len(new_ids)
    out.duplicates += len(accepted) - len(new_ids)
    alert_rows = []
    for acc, rec, row in zip(accepted, recs, rows, strict=True):
        e = acc.event
        out.touch_ack(e.gate_id, e.site_id)
        entry_id = new_ids.get(e.event_id)
        if entry_id is None:
            continue  # a duplicate: reconciled and alerted when it was first stored
        alert_rows += entry_alert_rows(e, entry_id, rec, acc.msg.received_at)
        if rec.resident_id is None and row["face_jpeg"] is not None:
            out.rematch.append(entry_id)
    out.alerts += insert_alerts(session, alert_rows)
    _seq_reuse_check(session, accepted, new_ids, out)


def _seq_reuse_check(session: Session, accepted: list[AcceptedEntry], new_ids: dict, out: BatchOutcome) -> None:
    """A new event at or below the acked seq means the gate reused seqs (re-imaged box?)."""
    gates = {a.event.gate_id for a in accepted if a.event.event_id in new_ids}
    if not gates:
        return
    acked = dict(session.execute(select(GateSeq.gate_id, GateSeq.acked_seq)
                                 .where(GateSeq.gate_id.in_(gates))).all())
    for a in accepted:
        if a.event.event_id in new_ids and a.event.seq <= acked.get(a.event.gate_id, 0):
            out.seq_reuse += 1
            log.warning("gate %s sent new event with seq %d <= acked %d: seq counter reset?",
                        a.event.gate_id, a.event.seq, acked[a.event.gate_id])
