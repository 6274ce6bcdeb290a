"""Rejected messages → ``quarantined_messages`` (a capped copy of the payload, kept for inspection)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from server.db.models import QuarantinedMessage
from server.ingest.outcome import BatchOutcome


def quarantine(session: Session, out: BatchOutcome, payload_cap: int) -> None:
    """Insert every ``out.rejected``; a rejection that settles a seq of its gate earns that gate an ack."""
    rows = []
    for r in out.rejected:
        rows.append({"received_at": r.msg.received_at, "topic": r.msg.topic[:512], "site_id": r.site_id,
                     "gate_id": r.gate_id, "seq": r.seq, "reason": r.reason, "error": r.error,
                     "payload": r.msg.payload[:payload_cap], "payload_size": len(r.msg.payload)})
        if r.seq is not None and r.gate_id and r.site_id:
            out.touch_ack(r.gate_id, r.site_id)
    if rows:
        session.execute(insert(QuarantinedMessage.__table__), rows)
