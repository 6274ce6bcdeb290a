"""One batch of MQTT messages → one database transaction.

Entries are inserted with ``INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id``
(both dialects) so duplicates cost nothing and we learn which rows are new; reconciliation
columns and alerts go in the same transaction; rejected payloads are quarantined; gate health is
updated; then each gate's contiguous committed seq is advanced. The caller commits and only then
publishes the acks this returns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from menwei.wire import Channel
from server.config import IngestSettings
from server.db.models import Alert, AlertKind, DeviceHealth, Entry, Gate, GateSeq, QuarantinedMessage
from server.db.types import utcnow
from server.ingest.validate import (
    AcceptedEntry,
    Classified,
    GateRef,
    HealthReport,
    Incoming,
    Rejected,
    check_gate,
    parse,
    topic_gate,
)
from server.reconcile.inline import ReconcileContext, reconcile_batch

log = logging.getLogger(__name__)

# how many stored seqs above the acked one are scanned per gate and batch
SEQ_SCAN_LIMIT = 5000


@dataclass
class BatchOutcome:
    acks: dict[str, tuple[str, int]] = field(default_factory=dict)  # gate → (site, acked_seq)
    inserted: int = 0
    duplicates: int = 0
    alerts: int = 0
    health: int = 0
    seq_reuse: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    rematch: list[int] = field(default_factory=list)  # new entry ids with an unknown face


def _upsert_insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _entry_row(acc: AcceptedEntry, household_id, unit_id, matched_by, has_alert: bool) -> dict:
    e = acc.event
    return {
        "event_id": e.event_id, "site_id": e.site_id, "gate_id": e.gate_id, "seq": e.seq,
        "captured_at": e.captured_at, "received_at": acc.msg.received_at,
        "direction": e.direction.value, "decision": e.decision.value, "reasons": list(e.reasons),
        "resident_id": e.person.resident_id, "household_id": household_id, "unit_id": unit_id,
        "matched_by": matched_by, "score": e.person.score, "gallery_version": e.person.gallery_version,
        "pack": e.person.pack, "temperature_c": e.temperature.celsius,
        "temperature_status": e.temperature.status.value, "temperature_method": e.temperature.method,
        "face_jpeg": acc.face_jpeg,  # decoded by validate.parse (a third smaller than base64)
        "face_purged_at": None, "rematched_at": None,
        "track": e.track.model_dump() if e.track else None,
        "override": e.override.model_dump() if e.override else None,
        "has_alert": has_alert,
    }


# PostgreSQL: one INSERT … SELECT FROM unnest(arrays) per batch. A multi-row VALUES statement with
# 25 parameters per row spends most of its time in client-side query parsing (12,000 placeholders
# for 500 rows); column arrays are 25 parameters whatever the batch size.
_PG_TYPES = {
    "event_id": "uuid[]", "site_id": "text[]", "gate_id": "text[]", "seq": "bigint[]",
    "captured_at": "timestamptz[]", "received_at": "timestamptz[]", "direction": "text[]",
    "decision": "text[]", "reasons": "json[]", "resident_id": "text[]", "household_id": "int[]",
    "unit_id": "int[]", "matched_by": "text[]", "score": "float8[]", "gallery_version": "int[]",
    "pack": "text[]", "temperature_c": "float8[]", "temperature_status": "text[]",
    "temperature_method": "text[]", "face_jpeg": "bytea[]", "face_purged_at": "timestamptz[]",
    "rematched_at": "timestamptz[]", "track": "json[]", "override": "json[]", "has_alert": "bool[]",
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


class BatchStore:
    """Stateless apart from the telemetry sampling clock; one per worker."""

    def __init__(self, settings: IngestSettings, now: Callable[[], datetime] = utcnow):
        self.settings = settings
        self.now = now
        self.reconcile_ctx = ReconcileContext(timedelta(hours=settings.double_entry_window_h))
        self._telemetry_sampled: dict[str, datetime] = {}

    # ------------------------------------------------------------------------------------------
    def process(self, session: Session, msgs: Sequence[Incoming],
                parsed: Sequence[Classified] | None = None) -> BatchOutcome:
        """``parsed``: ``validate.parse`` of each message, if done already (the worker's parse thread)."""
        out = BatchOutcome()
        gates = self._gates(session, msgs)
        accepted: list[AcceptedEntry] = []
        health: list[HealthReport] = []
        seen: set = set()
        if parsed is None:
            parsed = [parse(m) for m in msgs]
        for pre in parsed:
            c = check_gate(pre, gates)
            if isinstance(c, AcceptedEntry):
                if c.event.event_id in seen:
                    out.duplicates += 1
                    self._touch_ack(out, c.event.gate_id, c.event.site_id)
                    continue
                seen.add(c.event.event_id)
                accepted.append(c)
            elif isinstance(c, HealthReport):
                health.append(c)
            else:
                out.rejected.append(c)
        if out.rejected:
            self._quarantine(session, out)
        if accepted:
            self._insert_entries(session, accepted, out)
        for report in health:
            self._health(session, report, out)
        if out.acks:
            self._advance_acks(session, out)
        return out

    def quarantine_only(self, session: Session, msg: Incoming, error: str) -> Rejected:
        """Quarantine one message the database refused on its own (kept for inspection)."""
        where = topic_gate(msg.topic)
        rej = Rejected(msg, "store_error", error[:500], *(where[:2] if where else (None, None)))
        out = BatchOutcome(rejected=[rej])
        self._quarantine(session, out)
        return rej

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _gates(session: Session, msgs: Sequence[Incoming]) -> dict[str, GateRef]:
        # looked up per batch (a handful of ids) rather than cached: gates added through the API
        # are accepted immediately and a gate moved to another site is refused immediately
        ids = {w[1] for w in (topic_gate(m.topic) for m in msgs) if w}
        if not ids:
            return {}
        rows = session.execute(select(Gate.id, Gate.site_id, Gate.active).where(Gate.id.in_(ids))).all()
        return {r.id: GateRef(r.site_id, r.active) for r in rows}

    @staticmethod
    def _touch_ack(out: BatchOutcome, gate_id: str, site_id: str) -> None:
        out.acks.setdefault(gate_id, (site_id, 0))

    def _quarantine(self, session: Session, out: BatchOutcome) -> None:
        cap = self.settings.quarantine_payload_bytes
        rows = []
        for r in out.rejected:
            rows.append({"received_at": r.msg.received_at, "topic": r.msg.topic[:512], "site_id": r.site_id,
                         "gate_id": r.gate_id, "seq": r.seq, "reason": r.reason, "error": r.error,
                         "payload": r.msg.payload[:cap], "payload_size": len(r.msg.payload)})
            if r.seq is not None and r.gate_id and r.site_id:
                self._touch_ack(out, r.gate_id, r.site_id)
        session.execute(insert(QuarantinedMessage.__table__), rows)

    def _insert_entries(self, session: Session, accepted: list[AcceptedEntry], out: BatchOutcome) -> None:
        events = [a.event for a in accepted]
        recs = reconcile_batch(session, events, self.reconcile_ctx)
        rows = [_entry_row(a, r.household_id, r.unit_id, r.matched_by, bool(r.alerts))
                for a, r in zip(accepted, recs, strict=True)]
        if session.get_bind().dialect.name == "postgresql":
            # one lock order for every writer: concurrent batches holding the same duplicate
            # event ids then wait for each other instead of deadlocking
            new_ids = _insert_pg_unnest(session, sorted(rows, key=lambda r: r["event_id"]))
        else:
            table = Entry.__table__
            stmt = (sqlite_insert(table).on_conflict_do_nothing(index_elements=["event_id"])
                    .returning(table.c.id, table.c.event_id))
            new_ids = {event_id: entry_id for entry_id, event_id in session.execute(stmt, rows).all()}
        out.inserted += len(new_ids)
        out.duplicates += len(accepted) - len(new_ids)
        alert_rows = []
        for acc, rec, row in zip(accepted, recs, rows, strict=True):
            e = acc.event
            self._touch_ack(out, e.gate_id, e.site_id)
            entry_id = new_ids.get(e.event_id)
            if entry_id is None:
                continue
            for kind, resident_id, detail in rec.alerts:
                alert_rows.append({"kind": kind, "entry_id": entry_id, "site_id": e.site_id, "gate_id": e.gate_id,
                                   "resident_id": resident_id, "created_at": acc.msg.received_at,
                                   "acknowledged_by": None, "acknowledged_at": None,
                                   "detail": {**detail, "event_id": str(e.event_id)}})
            if e.person.resident_id is None and row["face_jpeg"] is not None:
                out.rematch.append(entry_id)
        if alert_rows:
            session.execute(insert(Alert.__table__), alert_rows)
            out.alerts += len(alert_rows)
        self._seq_reuse_check(session, accepted, new_ids, out)

    @staticmethod
    def _seq_reuse_check(session, accepted, new_ids, out: BatchOutcome) -> None:
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

    def _health(self, session: Session, r: HealthReport, out: BatchOutcome) -> None:
        now = self.now()
        out.health += 1
        if r.channel == Channel.TELEMETRY and r.telemetry is not None:
            data = r.telemetry.model_dump(mode="json", exclude_none=True)
            session.execute(update(Gate).where(Gate.id == r.gate_id)
                            .values(last_telemetry=data, telemetry_at=now, last_seen_at=now))
            last = self._telemetry_sampled.get(r.gate_id)
            if last is None or (now - last).total_seconds() >= self.settings.telemetry_history_s:
                self._telemetry_sampled[r.gate_id] = now
                session.execute(insert(DeviceHealth.__table__),
                                [{"gate_id": r.gate_id, "at": now, "kind": "telemetry", "state": None, "data": data}])
            return
        if r.status is None:
            return
        s = r.status
        data = s.model_dump(mode="json", exclude_none=True)
        # conditional transition: with several workers exactly one sees rowcount 1 and alerts
        changed = session.execute(update(Gate).where(Gate.id == r.gate_id, Gate.state != s.state)
                                  .values(state=s.state)).rowcount
        fields = {"last_status": data, "status_at": now}
        for name in ("agent_version", "gallery_version", "config_version", "pack"):
            if getattr(s, name) is not None:
                fields[name] = getattr(s, name)
        if s.state == "online":
            fields["last_seen_at"] = now
        session.execute(update(Gate).where(Gate.id == r.gate_id).values(**fields))
        if changed:
            session.execute(insert(DeviceHealth.__table__),
                            [{"gate_id": r.gate_id, "at": now, "kind": "status", "state": s.state, "data": data}])
            # 'unknown' → offline (a retained Will seen at first start) is not news; online → offline is
            if s.state == "offline" and not r.msg.retain:
                session.execute(insert(Alert.__table__), [{
                    "kind": AlertKind.GATE_OFFLINE, "entry_id": None, "site_id": r.site_id, "gate_id": r.gate_id,
                    "resident_id": None, "created_at": now, "acknowledged_by": None, "acknowledged_at": None,
                    "detail": {"status": data}}])
                out.alerts += 1

    def _advance_acks(self, session: Session, out: BatchOutcome) -> None:
        gate_ids = sorted(out.acks)
        now = self.now()
        ins = _upsert_insert(session)(GateSeq.__table__).on_conflict_do_nothing(index_elements=["gate_id"])
        session.execute(ins, [{"gate_id": g, "acked_seq": 0, "updated_at": now} for g in gate_ids])
        # row locks (PostgreSQL) serialise concurrent workers per gate; taken after our inserts, so
        # the scan below sees every row other workers committed before we got the lock
        current = session.execute(select(GateSeq.gate_id, GateSeq.acked_seq).where(GateSeq.gate_id.in_(gate_ids))
                                  .order_by(GateSeq.gate_id).with_for_update()).all()
        acked_now = dict(current)
        # every stored/settled seq just above each gate's acked one, in two queries for the batch
        stored: dict[str, set[int]] = {g: set() for g in acked_now}
        for model in (Entry, QuarantinedMessage):
            rows = session.execute(
                select(model.gate_id, model.seq).join(GateSeq, GateSeq.gate_id == model.gate_id)
                .where(GateSeq.gate_id.in_(gate_ids), model.seq > GateSeq.acked_seq,
                       model.seq <= GateSeq.acked_seq + SEQ_SCAN_LIMIT))
            for gate_id, seq in rows:
                stored[gate_id].add(seq)
        changed = []
        for gate_id, acked in acked_now.items():
            seqs = stored[gate_id]
            n = acked
            while n + 1 in seqs:
                n += 1
            if n != acked:
                changed.append({"g": gate_id, "n": n})
            out.acks[gate_id] = (out.acks[gate_id][0], n)
        if changed:
            session.execute(update(GateSeq.__table__).where(GateSeq.__table__.c.gate_id == bindparam("g"))
                            .values(acked_seq=bindparam("n"), updated_at=now), changed)
