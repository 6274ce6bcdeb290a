"""Gate status and telemetry → the ``gates`` row, ``device_health`` history and ``gate_offline`` alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from menwei.wire import Channel
from server.db.models import DeviceHealth, Gate
from server.ingest.alerts import gate_offline_alert, outbox_full_alert
from server.ingest.outcome import BatchOutcome
from server.ingest.silence import SILENT
from server.ingest.validate import HealthReport


class HealthRecorder:
    """Keeps the telemetry sampling clock (one history row per gate at most every ``sample_s``)."""

    def __init__(self, sample_s: float):
        self.sample_s = sample_s
        self._sampled: dict[str, datetime] = {}

    def record(self, session: Session, r: HealthReport, out: BatchOutcome, now: datetime) -> None:
        out.health += 1
        if r.channel == Channel.TELEMETRY and r.telemetry is not None:
            self._telemetry(session, r, now)
            self._outbox_alarm(session, r, out, now)
        elif r.status is not None:
            self._status(session, r, out, now)

    def _telemetry(self, session: Session, r: HealthReport, now: datetime) -> None:
        data = r.telemetry.model_dump(mode="json", exclude_none=True)
        session.execute(update(Gate).where(Gate.id == r.gate_id)
                        .values(last_telemetry=data, telemetry_at=now, last_seen_at=now))
        self._back_from_silence(session, r.gate_id, now)
        last = self._sampled.get(r.gate_id)
        if last is None or (now - last).total_seconds() >= self.sample_s:
            self._sampled[r.gate_id] = now
            session.execute(insert(DeviceHealth.__table__),
                            [{"gate_id": r.gate_id, "at": now, "kind": "telemetry", "state": None, "data": data}])

    @staticmethod
    def _back_from_silence(session: Session, gate_id: str, now: datetime) -> None:
        """A gate marked offline for silence (server/ingest/silence.py) that sends telemetry is
        online again: its retained status still says so, and it publishes none until it reconnects.
        Not after a Will: a late telemetry from before the crash must not undo it; the gate's
        status on reconnecting does."""
        row = session.execute(select(Gate.state, Gate.last_status, Gate.status_at).where(Gate.id == gate_id)).first()
        if row is None or row.state != "offline" or (row.last_status or {}).get("reason") != SILENT:
            return
        status = {"state": "online", "reason": "telemetry"}
        # conditional on the silent mark still being the last status: one writer wins
        flipped = session.execute(update(Gate).where(Gate.id == gate_id, Gate.state == "offline",
                                                     Gate.status_at == row.status_at)
                                  .values(state="online", last_status=status, status_at=now)).rowcount
        if flipped:
            session.execute(insert(DeviceHealth.__table__),
                            [{"gate_id": gate_id, "at": now, "kind": "status", "state": "online", "data": status}])

    @staticmethod
    def _outbox_alarm(session: Session, r: HealthReport, out: BatchOutcome, now: datetime) -> None:
        """One alert when the gate's outbox passes 90 %, none again until it has drained below."""
        near_full = bool(r.telemetry.outbox_near_full)
        flipped = session.execute(update(Gate).where(Gate.id == r.gate_id, Gate.outbox_alarm.is_(not near_full))
                                  .values(outbox_alarm=near_full)).rowcount
        if flipped and near_full:
            outbox_full_alert(session, r.site_id, r.gate_id, r.telemetry.model_dump(mode="json", exclude_none=True),
                              now)
            out.alerts += 1

    @staticmethod
    def _status(session: Session, r: HealthReport, out: BatchOutcome, now: datetime) -> None:
        s = r.status
        data = s.model_dump(mode="json", exclude_none=True)
        # conditional transitions: with several workers exactly one sees rowcount 1 and alerts.
        # News is the stored state going online → offline, whatever the retain flag says: a gate
        # that died while the worker was down arrives as a retained Will and is still news, while
        # 'unknown' → offline (a Will seen at first start) is not.
        went_offline = False
        if s.state == "offline":
            went_offline = bool(session.execute(update(Gate).where(Gate.id == r.gate_id, Gate.state == "online")
                                                .values(state="offline")).rowcount)
        changed = went_offline or bool(session.execute(
            update(Gate).where(Gate.id == r.gate_id, Gate.state != s.state).values(state=s.state)).rowcount)
        fields = {"last_status": data, "status_at": now}
        for name in ("agent_version", "gallery_version", "config_version", "pack"):
            if getattr(s, name) is not None:
                fields[name] = getattr(s, name)
        if s.state == "online":
            fields["last_seen_at"] = now
            fields["config_error"] = s.config_error  # an online status says it, or that there is none
        session.execute(update(Gate).where(Gate.id == r.gate_id).values(**fields))
        if changed:
            session.execute(insert(DeviceHealth.__table__),
                            [{"gate_id": r.gate_id, "at": now, "kind": "status", "state": s.state, "data": data}])
        if went_offline:
            gate_offline_alert(session, r.site_id, r.gate_id, data, now)
            out.alerts += 1
