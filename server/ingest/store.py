"""One batch of MQTT messages → one database transaction.

The jobs live in their own modules: ``quarantine`` (rejected payloads), ``inserts`` (entries,
reconciled, with their alerts), ``health`` (status/telemetry), ``acks`` (each gate's contiguous
committed seq); ``alerts`` builds alert rows for them. ``BatchStore`` only runs them in order. The
caller commits and only then publishes the acks this returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.config import IngestSettings
from server.db.models import Gate
from server.db.types import utcnow
from server.ingest.acks import advance_acks
from server.ingest.health import HealthRecorder
from server.ingest.inserts import insert_entries
from server.ingest.outcome import BatchOutcome
from server.ingest.quarantine import quarantine
from server.ingest.validate import (
    STORE_ERROR,
    AcceptedEntry,
    CaptureBounds,
    Classified,
    GateRef,
    HealthReport,
    Incoming,
    Rejected,
    check_gate,
    parse,
    topic_gate,
)
from server.reconcile.inline import ReconcileContext

__all__ = ["BatchOutcome", "BatchStore"]


class BatchStore:
    """Stateless apart from the telemetry sampling clock; one per worker."""

    def __init__(self, settings: IngestSettings, now: Callable[[], datetime] = utcnow):
        self.settings = settings
        self.now = now
        self.reconcile_ctx = ReconcileContext(timedelta(hours=settings.double_entry_window_h))
        self.bounds = CaptureBounds.from_settings(settings)
        self.override_window = timedelta(seconds=settings.override_window_s)
        self.health = HealthRecorder(settings.telemetry_history_s)

    def process(self, session: Session, msgs: Sequence[Incoming],
                parsed: Sequence[Classified] | None = None) -> BatchOutcome:
        """``parsed``: ``validate.parse`` of each message, if done already (the worker's parse thread)."""
        out = BatchOutcome()
        gates = self._gates(session, msgs)
        accepted: list[AcceptedEntry] = []
        health: list[HealthReport] = []
        seen: set = set()
        if parsed is None:
            parsed = [parse(m, self.bounds) for m in msgs]
        for pre in parsed:
            c = check_gate(pre, gates)
            if isinstance(c, AcceptedEntry):
                if c.event.event_id in seen:
                    out.duplicates += 1
                    out.touch_ack(c.event.gate_id, c.event.site_id)
                    continue
                seen.add(c.event.event_id)
                accepted.append(c)
            elif isinstance(c, HealthReport):
                health.append(c)
            else:
                out.rejected.append(c)
        quarantine(session, out, self.settings.quarantine_payload_bytes)
        if accepted:
            insert_entries(session, accepted, out, self.reconcile_ctx, self.override_window)
        now = self.now()
        for report in health:
            self.health.record(session, report, out, now)
        advance_acks(session, out, now)
        return out

    def quarantine_only(self, session: Session, msg: Incoming, error: str) -> Rejected:
        """Quarantine one message the database refused on its own (kept for inspection)."""
        where = topic_gate(msg.topic)
        rej = Rejected(msg, STORE_ERROR, error[:500], *(where[:2] if where else (None, None)))
        quarantine(session, BatchOutcome(rejected=[rej]), self.settings.quarantine_payload_bytes)
        return rej

    @staticmethod
    def _gates(session: Session, msgs: Sequence[Incoming]) -> dict[str, GateRef]:
        # looked up per batch (a handful of ids) rather than cached: gates added through the API
        # are accepted immediately and a gate moved to another site is refused immediately
        ids = {w[1] for w in (topic_gate(m.topic) for m in msgs) if w}
        if not ids:
            return {}
        rows = session.execute(select(Gate.id, Gate.site_id, Gate.active).where(Gate.id.in_(ids))).all()
        return {r.id: GateRef(r.site_id, r.active) for r in rows}
