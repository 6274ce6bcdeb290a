"""Retention: biometric data kept only as long as it is needed, every purge in the audit log.

What goes, and when (``RetentionSettings``):
- entry face crops of non-residents (unknown faces, visitors, moved-out people) after
  ``face_crop_days``; residents' crops after ``resident_face_crop_days`` (null keeps them); banned
  people's crops count as residents' (they are the evidence a ban needs);
- enrolment photos and embeddings of expired visitors (``valid_until``) and of people moved out
  (``status_changed_at``) once that is ``non_resident_days`` ago;
- whole entry rows after ``entry_days`` (null = kept), rejected payloads after
  ``quarantine_days``, device-health history after ``health_days``.
Each category purged writes one audit-log row with its count and cut-off (never the data).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from server.config import RetentionSettings, Settings
from server.db.models import (
    AuditLog,
    DeviceHealth,
    Entry,
    FacePhoto,
    QuarantinedMessage,
    Resident,
    ResidentStatus,
)
from server.db.types import utcnow

log = logging.getLogger(__name__)

ACTOR = "system:retention"
CHUNK = 5000  # rows per statement, so a big purge never holds a long lock on the ingest path
NON_RESIDENT = (ResidentStatus.VISITOR, ResidentStatus.MOVED_OUT)


@dataclass
class PurgeReport:
    at: datetime
    dry_run: bool = False
    entry_face_crops: int = 0
    resident_face_crops: int = 0
    face_photos: int = 0
    entries: int = 0
    quarantine: int = 0
    device_health: int = 0
    # compounds whose enrolled embeddings changed: their galleries must be republished
    sites_changed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["at"] = self.at.isoformat()
        return d


def _days(n: float) -> timedelta:
    return timedelta(days=n)


def _audit(session: Session, what: str, count: int, cutoff: datetime, rule: str, dry_run: bool) -> None:
    if count and not dry_run:
        session.add(AuditLog(username=ACTOR, action="purge", object_type=what, object_id=None,
                             detail={"count": count, "older_than": cutoff.isoformat(), "rule": rule}))


def _chunked_update(session: Session, ids_query, apply, dry_run: bool) -> int:
    if dry_run:
        return len(session.scalars(ids_query).all())
    total = 0
    while True:
        ids = session.scalars(ids_query.limit(CHUNK)).all()
        if not ids:
            return total
        apply(ids)
        total += len(ids)
        session.flush()


def purge(sessions: sessionmaker[Session], policy: RetentionSettings, *, now: datetime | None = None,
          dry_run: bool = False) -> PurgeReport:
    """Apply the policy once; one transaction per category, so a failure leaves earlier ones done."""
    now = now or utcnow()
    report = PurgeReport(at=now, dry_run=dry_run)

    # 1. face crops of entries by people who do not live here (or nobody we know)
    cutoff = now - _days(policy.face_crop_days)
    non_resident = or_(Entry.resident_id.is_(None),
                       ~exists().where(Resident.id == Entry.resident_id,
                                       Resident.status.not_in(NON_RESIDENT)))
    with sessions.begin() as s:
        q = select(Entry.id).where(Entry.face_jpeg.is_not(None), Entry.captured_at < cutoff, non_resident)
        report.entry_face_crops = _chunked_update(
            s, q, lambda ids: s.execute(update(Entry).where(Entry.id.in_(ids))
                                        .values(face_jpeg=None, face_purged_at=now)), dry_run)
        _audit(s, "entries.face_jpeg", report.entry_face_crops, cutoff, "non_resident_face_crop", dry_run)

    if policy.resident_face_crop_days is not None:
        cutoff = now - _days(policy.resident_face_crop_days)
        with sessions.begin() as s:
            q = select(Entry.id).where(Entry.face_jpeg.is_not(None), Entry.captured_at < cutoff)
            report.resident_face_crops = _chunked_update(
                s, q, lambda ids: s.execute(update(Entry).where(Entry.id.in_(ids))
                                            .values(face_jpeg=None, face_purged_at=now)), dry_run)
            _audit(s, "entries.face_jpeg", report.resident_face_crops, cutoff, "resident_face_crop", dry_run)

    # 2. enrolment photos + embeddings of expired visitors and people who moved out
    cutoff = now - _days(policy.non_resident_days)
    gone = or_(and_(Resident.status == ResidentStatus.VISITOR, Resident.valid_until.is_not(None),
                    Resident.valid_until < cutoff),
               and_(Resident.status == ResidentStatus.MOVED_OUT, Resident.status_changed_at < cutoff))
    with sessions.begin() as s:
        rows = s.execute(select(FacePhoto.id, Resident.site_id).join(Resident, Resident.id == FacePhoto.resident_id)
                         .where(gone)).all()
        report.face_photos = len(rows)
        report.sites_changed = sorted({r.site_id for r in rows})
        if rows and not dry_run:
            ids = [r.id for r in rows]
            for i in range(0, len(ids), CHUNK):
                s.execute(delete(FacePhoto).where(FacePhoto.id.in_(ids[i:i + CHUNK])))
        _audit(s, "face_photos", report.face_photos, cutoff, "expired_visitor_or_moved_out", dry_run)

    # 3. whole entry rows, if the policy bounds them
    if policy.entry_days is not None:
        cutoff = now - _days(policy.entry_days)
        with sessions.begin() as s:
            q = select(Entry.id).where(Entry.captured_at < cutoff)
            report.entries = _chunked_update(s, q, lambda ids: s.execute(delete(Entry).where(Entry.id.in_(ids))),
                                             dry_run)
            _audit(s, "entries", report.entries, cutoff, "entry_days", dry_run)

    # 4. housekeeping: rejected payloads and health history
    for model, days, name, col in ((QuarantinedMessage, policy.quarantine_days, "quarantine",
                                    QuarantinedMessage.received_at),
                                   (DeviceHealth, policy.health_days, "device_health", DeviceHealth.at)):
        cutoff = now - _days(days)
        with sessions.begin() as s:
            q = select(model.id).where(col < cutoff)
            n = _chunked_update(s, q, lambda ids, m=model, s=s: s.execute(delete(m).where(m.id.in_(ids))), dry_run)
            setattr(report, name, n)
            _audit(s, name, n, cutoff, f"{name}_days", dry_run)

    log.info("retention%s: %s", " (dry run)" if dry_run else "", report.as_dict())
    return report


def run_retention(settings: Settings, *, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
    """For ``menwei server purge``: open the configured database and apply its retention policy."""
    from server.db.session import make_engine, session_factory

    engine = make_engine(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        return purge(session_factory(engine), settings.retention, now=now, dry_run=dry_run)
    finally:
        engine.dispose()
