"""Retention on SQLite and PostgreSQL: what is purged, what is kept, and the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from ingest_kit import event, seed
from sqlalchemy import select
from test_reconcile import incoming, run

from server.config import IngestSettings, RetentionSettings
from server.db.models import Alert, AuditLog, Entry, FacePhoto, ResidentStatus
from server.ingest.store import BatchStore
from server.retention import purge

NOW = datetime.now(UTC)


def jpeg(faces_dir) -> bytes:
    img = cv2.imread(str(faces_dir / "knn_examples" / "train" / "obama" / "obama.jpg"))
    ok, data = cv2.imencode(".jpg", cv2.resize(img, (120, 120)))
    assert ok
    return data.tobytes()


def test_purges_non_resident_biometrics_and_logs_it(sessions, uid, faces_dir):
    site, gate = f"s{uid}", f"g{uid}"
    days = timedelta(days=1)
    people = {
        "res": {"status": ResidentStatus.RESIDENT},
        "banned": {"status": ResidentStatus.BANNED},
        "vis_old": {"status": ResidentStatus.VISITOR, "valid_until": NOW - 40 * days},
        "vis_cur": {"status": ResidentStatus.VISITOR, "valid_until": NOW + 2 * days},
        "moved_old": {"status": ResidentStatus.MOVED_OUT, "status_changed_at": NOW - 40 * days},
        "moved_new": {"status": ResidentStatus.MOVED_OUT, "status_changed_at": NOW - 5 * days},
    }
    seed(sessions, site, {gate: "both"}, [{"id": f"{k}-{uid}", "name": k, **v} for k, v in people.items()])
    rng = np.random.default_rng(1)
    with sessions.begin() as s:
        for k in people:
            s.add(FacePhoto(resident_id=f"{k}-{uid}", pack="dlib-resnet", dim=128,
                            embedding=rng.standard_normal(128).astype("<f4").tobytes()))
    face = jpeg(faces_dir)
    old = NOW - 40 * days
    seqs = iter(range(1, 100))
    crops = {who: event(site, gate, next(seqs), resident_id=f"{who}-{uid}" if who else None, at=old, face=face)
             for who in (None, "res", "banned", "vis_cur", "moved_new")}
    recent_unknown = event(site, gate, next(seqs), resident_id=None, at=NOW - days, face=face)
    run(sessions, BatchStore(IngestSettings()), *(incoming(e) for e in [*crops.values(), recent_unknown]))

    policy = RetentionSettings(face_crop_days=30, resident_face_crop_days=None, non_resident_days=30)
    dry = purge(sessions, policy, dry_run=True)
    assert (dry.entry_face_crops, dry.face_photos) == (3, 2)
    with sessions() as s:
        assert s.query(Entry).filter(Entry.face_jpeg.is_not(None)).count() == 6  # nothing touched
        assert s.query(AuditLog).count() == 0

    report = purge(sessions, policy)
    assert (report.entry_face_crops, report.face_photos, report.entries) == (3, 2, 0)
    assert report.sites_changed == [site]
    with sessions() as s:
        kept = {str(e.event_id) for e in s.scalars(select(Entry).where(Entry.face_jpeg.is_not(None)))}
        assert kept == {crops["res"]["event_id"], crops["banned"]["event_id"], recent_unknown["event_id"]}
        purged = s.scalars(select(Entry).where(Entry.event_id == uuid.UUID(crops[None]["event_id"]))).one()
        assert purged.face_purged_at is not None
        photos = set(s.scalars(select(FacePhoto.resident_id)))
        assert photos == {f"{k}-{uid}" for k in ("res", "banned", "vis_cur", "moved_new")}
        audit = {a.object_type: a.detail["count"] for a in s.scalars(select(AuditLog).where(AuditLog.action == "purge"))}
        assert audit == {"entries.face_jpeg": 3, "face_photos": 2}
    # purging again finds nothing new
    again = purge(sessions, policy)
    assert (again.entry_face_crops, again.face_photos) == (0, 0)

    # entry rows past their policy go; their alerts stay, detached
    with sessions() as s:
        alerts_before = s.query(Alert).count()
    rows = purge(sessions, RetentionSettings(entry_days=35, resident_face_crop_days=None))
    assert rows.entries == 5
    with sessions() as s:
        assert [str(e) for e in s.scalars(select(Entry.event_id))] == [recent_unknown["event_id"]]
        assert s.query(Alert).count() == alerts_before
        assert s.query(Alert).filter(Alert.entry_id.is_(None)).count() >= 1


def test_resident_crops_have_their_own_period(sessions, uid, faces_dir):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"}, [{"id": f"r{uid}", "name": "R"}])
    face = jpeg(faces_dir)
    run(sessions, BatchStore(IngestSettings()),
        incoming(event(site, gate, 1, resident_id=f"r{uid}", at=NOW - timedelta(days=100), face=face)),
        incoming(event(site, gate, 2, resident_id=f"r{uid}", at=NOW - timedelta(days=10), face=face)))
    report = purge(sessions, RetentionSettings(face_crop_days=30, resident_face_crop_days=90))
    assert (report.entry_face_crops, report.resident_face_crops) == (0, 1)
    with sessions() as s:
        assert dict(s.execute(select(Entry.seq, Entry.face_jpeg.is_not(None))).all()) == {1: False, 2: True}


def test_each_chunk_commits_with_its_audit_row(sessions, engine, uid, faces_dir):
    """A purge that fails midway keeps the chunks before the failure, audited; the next run
    finishes. (With one transaction per category, the failure undid everything, and the locks of
    a large purge were held to its end.)"""
    from sqlalchemy import event as sa_event

    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    face = jpeg(faces_dir)
    old = NOW - timedelta(days=40)
    run(sessions, BatchStore(IngestSettings()),
        *(incoming(event(site, gate, i + 1, resident_id=None, at=old + timedelta(seconds=i), face=face))
          for i in range(7)))
    updates = []

    def fail_third_update(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE ENTRIES"):
            updates.append(statement)
            if len(updates) == 3:
                raise RuntimeError("database went away")  # as a dropped connection would

    policy = RetentionSettings(face_crop_days=30, resident_face_crop_days=None, non_resident_days=30)
    sa_event.listen(engine, "before_cursor_execute", fail_third_update)
    try:
        try:
            purge(sessions, policy, chunk=3)
        except Exception as exc:
            assert "database went away" in str(exc)
        else:
            raise AssertionError("the injected failure did not surface")
    finally:
        sa_event.remove(engine, "before_cursor_execute", fail_third_update)

    def state():
        with sessions() as s:
            left = s.query(Entry).filter(Entry.site_id == site, Entry.face_jpeg.is_not(None)).count()
            audit = [a.detail["count"] for a in s.scalars(select(AuditLog).where(
                AuditLog.action == "purge", AuditLog.object_type == "entries.face_jpeg").order_by(AuditLog.id))]
        return left, audit

    assert state() == (1, [3, 3])  # two chunks committed and audited before the failure
    assert purge(sessions, policy, chunk=3).entry_face_crops == 1
    assert state() == (0, [3, 3, 1])
