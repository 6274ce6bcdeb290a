"""Retention: biometric data kept only as long as it is needed, every purge in the audit log.

What goes, and when (``RetentionSettings``):
- entry face crops of non-residents (unknown faces, visitors, moved-out people) after
  ``face_crop_days``; residents' crops after ``resident_face_crop_days`` (null keeps them); banned
  people's crops count as residents' (they are the evidence a ban needs);
- enrolment photos and embeddings of expired visitors (``valid_until``) and of people moved out
  (``status_changed_at``) once that is ``non_resident_days`` ago;
- whole entry rows after ``entry_days`` (null = kept), rejected payloads after
  ``quarantine_days``, device-health history after ``health_days``.
Every chunk purged commits with one audit-log row: its count, rule and cut-off (never the data).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial

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
CHUNK = 5000  # rows per transaction, so a big purge never holds a long lock on the ingest path
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


def _purge(sessions: sessionmaker[Session], ids_query, apply, audit: tuple[str, datetime, str], *,
           dry_run: bool, chunk: int) -> int:
    """Apply ``apply(session, ids)`` to what ``ids_query`` selects, ``chunk`` rows per transaction.

    Each chunk commits with its own audit row, so locks are held for one chunk only (ingestion
    and the API keep working during a long purge) and a failure leaves the chunks before it done
    and audited; the next run picks up the rest, because ``ids_query`` selects only what is left.
    """
    if dry_run:
        with sessions() as s:
            return len(s.scalars(ids_query).all())
    what, cutoff, rule = audit
    total = 0
    while True:
        with sessions.begin() as s:
            ids = s.scalars(ids_query.limit(chunk)).all()
            if not ids:
                return total
            apply(s, ids)
            s.add(AuditLog(username=ACTOR, action="purge", object_type=what, object_id=None,
                           detail={"count": len(ids), "older_than": cutoff.isoformat(), "rule": rule}))
        total += len(ids)


def _clear_crops(s: Session, ids, now: datetime) -> None:
    s.execute(update(Entry).where(Entry.id.in_(ids)).values(face_jpeg=None, face_purged_at=now))


def _delete(model):
    return lambda s, ids: s.execute(delete(model).where(model.id.in_(ids)))


def purge(sessions: sessionmaker[Session], policy: RetentionSettings, *, now: datetime | None = None,
          dry_run: bool = False, chunk: int = CHUNK) -> PurgeReport:
    """Apply the policy once, category by category, committing every ``chunk`` rows."""
    now = now or utcnow()
    report = PurgeReport(at=now, dry_run=dry_run)
    run = partial(_purge, sessions, dry_run=dry_run, chunk=chunk)
    clear = partial(_clear_crops, now=now)

    # 1. face crops of entries by people who do not live here (or nobody we know)
    cutoff = now - _days(policy.face_crop_days)
    non_resident = or_(Entry.resident_id.is_(None),
                       ~exists().where(Resident.id == Entry.resident_id,
                                       Resident.status.not_in(NON_RESIDENT)))
    q = select(Entry.id).where(Entry.face_jpeg.is_not(None), Entry.captured_at < cutoff, non_resident)
    report.entry_face_crops = run(q, clear, ("entries.face_jpeg", cutoff, "non_resident_face_crop"))

    if policy.resident_face_crop_days is not None:
        cutoff = now - _days(policy.resident_face_crop_days)
        q = select(Entry.id).where(Entry.face_jpeg.is_not(None), Entry.captured_at < cutoff)
        report.resident_face_crops = run(q, clear, ("entries.face_jpeg", cutoff, "resident_face_crop"))

    # 2. enrolment photos + embeddings of expired visitors and people who moved out
    cutoff = now - _days(policy.non_resident_days)
    gone = or_(and_(Resident.status == ResidentStatus.VISITOR, Resident.valid_until.is_not(None),
                    Resident.valid_until < cutoff),
               and_(Resident.status == ResidentStatus.MOVED_OUT, Resident.status_changed_at < cutoff))
    photos = select(FacePhoto.id).join(Resident, Resident.id == FacePhoto.resident_id).where(gone)
    with sessions() as s:
        report.sites_changed = sorted(s.scalars(select(Resident.site_id).distinct()
                                                .join(FacePhoto, FacePhoto.resident_id == Resident.id).where(gone)))
    report.face_photos = run(photos, _delete(FacePhoto), ("face_photos", cutoff, "expired_visitor_or_moved_out"))

    # 3. whole entry rows, if the policy bounds them
    if policy.entry_days is not None:
        cutoff = now - _days(policy.entry_days)
        report.entries = run(select(Entry.id).where(Entry.captured_at < cutoff), _delete(Entry),
                             ("entries", cutoff, "entry_days"))

    # 4. housekeeping: rejected payloads and health history
    for model, days, name, col in ((QuarantinedMessage, policy.quarantine_days, "quarantine",
                                    QuarantinedMessage.received_at),
                                   (DeviceHealth, policy.health_days, "device_health", DeviceHealth.at)):
        cutoff = now - _days(days)
        setattr(report, name, run(select(model.id).where(col < cutoff), _delete(model),
                                  (name, cutoff, f"{name}_days")))

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
