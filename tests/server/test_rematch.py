"""District re-match of unknown faces with the real face engine and real photographs."""

from __future__ import annotations

import cv2
import numpy as np
from ingest_kit import event, seed
from sqlalchemy import select
from test_reconcile import incoming, run

from edge.face.image_io import load_image
from server.config import IngestSettings
from server.db.models import Alert, Entry, FacePhoto, ResidentStatus
from server.ingest.store import BatchStore
from server.reconcile.rematch import Rematcher


def gate_crop(engine, path) -> bytes:
    """A face crop as a gate would send it: the detected box with a small margin, JPEG."""
    image = load_image(path)
    face = engine.detect(image)[0]
    x, y, w, h = (int(v) for v in face.bbox)
    x0, y0, x1, y1 = x, y, x + w, y + h
    m = w // 5
    crop = image[max(0, y0 - m):y1 + m, max(0, x0 - m):x1 + m]
    scale = 200 / max(crop.shape[:2])  # gates send small crops (the contract caps them at 64 KB)
    if scale < 1:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok and len(jpeg) < 64 * 1024
    return jpeg.tobytes()


def enrol(sessions, engine, resident_id: str, path) -> None:
    face = engine.enrol(load_image(path), name=str(path))
    with sessions.begin() as s:
        s.add(FacePhoto(resident_id=resident_id, pack=engine.pack, dim=engine.dim,
                        embedding=np.asarray(face.embedding, "<f4").tobytes()))


def test_unknown_face_is_named_from_another_compound(sessions, uid, face_engine, faces_dir):
    train = faces_dir / "knn_examples" / "train"
    home, visit = f"home{uid}", f"visit{uid}"
    gate = f"g{uid}"
    seed(sessions, home, {}, [{"id": f"obama-{uid}", "name": "B. Obama"},
                              {"id": f"biden-{uid}", "name": "J. Biden", "status": ResidentStatus.QUARANTINE},
                              {"id": f"rose-{uid}", "name": "R. Leslie", "status": ResidentStatus.BANNED}])
    seed(sessions, visit, {gate: "in"})
    enrol(sessions, face_engine, f"obama-{uid}", train / "obama" / "obama.jpg")
    enrol(sessions, face_engine, f"biden-{uid}", train / "biden" / "biden.jpg")
    enrol(sessions, face_engine, f"rose-{uid}", train / "rose_leslie" / "img1.jpg")
    # the gate at `visit` only knows its own residents: all three come out unknown there
    crops = {name: gate_crop(face_engine, train / name / file) for name, file in
             [("obama", "obama2.jpg"), ("biden", "biden2.jpg"), ("rose_leslie", "img2.jpg"),
                                     ("kit_harington", "john1.jpeg")]}
    events = {name: event(visit, gate, i + 1, resident_id=None, decision="denied", face=crop)
              for i, (name, crop) in enumerate(crops.items())}
    out = run(sessions, BatchStore(IngestSettings()), *(incoming(e) for e in events.values()))
    assert len(out.rematch) == 4

    rematcher = Rematcher(sessions, engine=face_engine)
    assert sorted(rematcher.sweep()) == sorted(out.rematch)  # what a restarted worker would pick up
    results = {r.entry_id: r for r in (rematcher.process(i) for i in out.rematch)}
    assert rematcher.sweep() == []

    with sessions() as s:
        entries = {str(e.event_id): e for e in s.scalars(select(Entry).where(Entry.gate_id == gate))}
        by_name = {name: entries[ev["event_id"]] for name, ev in events.items()}
        assert by_name["obama"].resident_id == f"obama-{uid}"
        assert by_name["obama"].matched_by.value == "district_rematch"
        assert by_name["biden"].resident_id == f"biden-{uid}"
        assert by_name["kit_harington"].resident_id is None  # enrolled nowhere: stays unknown
        assert results[by_name["kit_harington"].id].reason == "below_threshold"
        assert results[by_name["obama"].id].score >= face_engine.threshold
        unknown = s.scalars(select(Alert).where(Alert.entry_id == by_name["obama"].id)).one()
        assert unknown.kind.value == "unknown_person" and unknown.detail["rematched_site_id"] == home
        # once named, home quarantine applies wherever she is seen, and the alert goes to her own
        # compound's office; her home compound's ban says nothing about entering another compound
        alerts = {a.kind.value: a for a in s.scalars(select(Alert).where(Alert.entry_id == by_name["biden"].id))}
        assert sorted(alerts) == ["status_forbids", "unknown_person"]
        assert alerts["status_forbids"].site_id == home and alerts["unknown_person"].site_id == visit
        assert alerts["status_forbids"].detail["rule"] == "quarantine_seen_elsewhere"
        assert by_name["rose_leslie"].resident_id == f"rose-{uid}"
        kinds = [a.kind.value for a in s.scalars(select(Alert).where(Alert.entry_id == by_name["rose_leslie"].id))]
        assert kinds == ["unknown_person"]


def test_rematcher_thread_and_bad_crop(sessions, uid, face_engine, faces_dir):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"}, [{"id": f"rose-{uid}", "name": "R. Leslie"}])
    enrol(sessions, face_engine, f"rose-{uid}", faces_dir / "knn_examples" / "train" / "rose_leslie" / "img1.jpg")
    good = gate_crop(face_engine, faces_dir / "knn_examples" / "train" / "rose_leslie" / "img2.jpg")
    truncated = good[: len(good) // 3]  # starts like a JPEG, is not one
    out = run(sessions, BatchStore(IngestSettings()),
              incoming(event(site, gate, 1, resident_id=None, face=good)),
              incoming(event(site, gate, 2, resident_id=None, face=truncated)))
    rematcher = Rematcher(sessions, engine=face_engine)
    rematcher.start()
    try:
        rematcher.submit(out.rematch)
        from ingest_kit import wait_for

        assert wait_for(lambda: rematcher.done >= 2, timeout=60)
    finally:
        rematcher.stop()
    with sessions() as s:
        rows = dict(s.execute(select(Entry.seq, Entry.resident_id).where(Entry.gate_id == gate)).all())
    assert rows == {1: f"rose-{uid}", 2: None}
