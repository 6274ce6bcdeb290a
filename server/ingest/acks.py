"""Per gate, advance ``gate_seq.acked_seq`` over every contiguous stored or settled seq."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server.db.models import Entry, GateSeq, QuarantinedMessage
from server.ingest.outcome import BatchOutcome

# how many stored seqs above the acked one are scanned per gate and batch
SEQ_SCAN_LIMIT = 5000


def advance_acks(session: Session, out: BatchOutcome, now: datetime) -> None:
    """Set ``out.acks[gate]`` to each gate's new acked_seq (the caller publishes it after commit)."""
    if not out.acks:
        return
    gate_ids = sorted(out.acks)
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    ins = upsert(GateSeq.__table__).on_conflict_do_nothing(index_elements=["gate_id"])
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
