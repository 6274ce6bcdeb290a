"""Masked templates in the server's registry: stored beside each enrolment photo, tagged in the
database (migration 0010), published in the gallery file, and matched by masked probes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_kit import create_pg_database, drop_pg_database
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from edge.face.gallery import Gallery
from edge.face.masked import ENROL_TEXTURES
from server.db.models import FacePhoto, FaceVariant, Resident, Site
from server.db.session import make_engine, session_factory, upgrade
from server.gallery.build import build_gallery
from server.gallery.publish import collect_entries
from server.registry.faces import EngineHolder
from server.registry.service import store_photo


@pytest.fixture(params=["sqlite", "postgresql"])
def db_at_0009(request, tmp_path) -> Iterator[str]:
    """An empty database migrated only to 0009, the revision before masked templates."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        upgrade(url, "0009")
        yield url
        return
    admin = request.getfixturevalue("pg_admin_url")
    url = create_pg_database(admin)
    try:
        upgrade(url, "0009")
        yield url
    finally:
        drop_pg_database(admin, url)


def test_upgrade_keeps_existing_photos_as_plain_and_masked_rows_go_with_their_photo(db_at_0009):
    eng = make_engine(db_at_0009)
    try:
        with eng.begin() as c:  # a photo enrolled before the upgrade, as 0009's schema stores it
            c.execute(text("INSERT INTO sites (id, name, created_at) VALUES ('s1', 'S', CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO residents (id, site_id, name, status, status_changed_at, created_at, "
                           "updated_at) VALUES ('r1', 's1', 'R', 'resident', CURRENT_TIMESTAMP, "
                           "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO face_photos (resident_id, pack, dim, embedding, created_at) "
                           "VALUES ('r1', 'dlib-resnet', 2, :e, CURRENT_TIMESTAMP)"), {"e": b"\0" * 8})
        upgrade(eng)
        sessions = session_factory(eng)
        with sessions.begin() as s:
            old = s.scalars(select(FacePhoto)).one()
            assert old.variant == FaceVariant.PLAIN and old.parent_id is None
            s.add(FacePhoto(resident_id="r1", pack="dlib-resnet", dim=2, embedding=b"\1" * 8,
                            variant=FaceVariant.MASKED, parent_id=old.id))
        with sessions.begin() as s:
            assert sorted(p.variant.value for p in s.scalars(select(FacePhoto))) == ["masked", "plain"]
            s.delete(s.scalars(select(FacePhoto).where(FacePhoto.variant == FaceVariant.PLAIN)).one())
        with sessions() as s:
            assert s.scalars(select(FacePhoto)).all() == []  # the masked template went with its photo
        with pytest.raises(IntegrityError), eng.begin() as c:  # the variant is checked like every enum
            c.execute(text("INSERT INTO face_photos (resident_id, pack, dim, embedding, created_at, variant) "
                           "VALUES ('r1', 'dlib-resnet', 2, :e, CURRENT_TIMESTAMP, 'hat')"), {"e": b"\0" * 8})
    finally:
        eng.dispose()


def _enrol(sessions, holder: EngineHolder, resident: str, photo: Path, source: str) -> int:
    result = holder.enrol_bytes(photo.read_bytes(), photo.name)
    assert result.ok, result.message
    with sessions.begin() as s:
        return store_photo(s, resident, result, holder.pack, source, replace_source_prefix="import:").id


def test_enrolment_stores_masked_templates_and_publishes_them(sessions, face_engine, faces_dir):
    from edge.face.mask_paint import TEXTURES
    from edge.face.masked_probes import labelled_faces, probe_face, textures

    holder = EngineHolder(face_engine.pack)
    holder.set(face_engine)
    train = faces_dir / "knn_examples/train"
    with sessions.begin() as s:
        s.add(Site(id="s1", name="S"))
        for rid in ("obama", "biden", "alex_lacamoire"):
            s.add(Resident(id=rid, site_id="s1", name=rid))
    photo_id = _enrol(sessions, holder, "obama", train / "obama/obama.jpg", "import:obama.jpg")
    _enrol(sessions, holder, "biden", train / "biden/biden.jpg", "import:biden.jpg")
    _enrol(sessions, holder, "alex_lacamoire", train / "alex_lacamoire/img1.jpg", "import:img1.jpg")
    # a re-import replaces the photo and its masked templates, not adds to them
    _enrol(sessions, holder, "obama", train / "obama/obama.jpg", "import:obama.jpg")
    with sessions() as s:
        rows = s.scalars(select(FacePhoto).where(FacePhoto.resident_id == "obama")).all()
        plain = [p for p in rows if p.variant == FaceVariant.PLAIN]
        masked = [p for p in rows if p.variant == FaceVariant.MASKED]
        assert len(plain) == 1 and plain[0].id != photo_id and plain[0].crop_jpeg
        assert len(masked) == len(ENROL_TEXTURES)
        assert all(m.parent_id == plain[0].id and m.crop_jpeg is None for m in masked)
        entries = collect_entries(s, "s1", face_engine.pack)
    built = build_gallery(face_engine.pack, face_engine.dim, 1, entries)
    assert built.count == 3 and built.rows == 3 * (1 + len(ENROL_TEXTURES))
    gallery = Gallery.from_bytes(built.data)
    assert sorted(zip(gallery.row_ids, gallery.row_masked, strict=True)) == sorted(
        [(r, False) for r in ("alex_lacamoire", "biden", "obama")]
        + [(r, True) for r in ("alex_lacamoire", "biden", "obama") for _ in ENROL_TEXTURES])
    # the published file names masked residents: the test photos' labelled faces, painted
    probes = [f for f in labelled_faces(faces_dir, ["obama", "biden", "alex_lacamoire"]) if f.identity]
    assert len(probes) == 6
    named = 0
    for lf in probes:
        for tex in textures(faces_dir, TEXTURES).values():
            best = gallery.search(probe_face(face_engine, lf, tex).embedding[None])[0][0]
            assert not face_engine.accepts(best) or best.identity == lf.identity
            named += face_engine.accepts(best) and best.masked
    assert named >= 0.9 * len(probes) * len(TEXTURES)


def test_the_entry_keeps_the_gates_mask_flag(sessions, uid):
    """person.mask reaches entries.mask; an event without it (every gate before masked templates)
    is stored with NULL, not known."""
    from ingest_kit import event, seed
    from test_reconcile import incoming, run

    from server.config import IngestSettings
    from server.db.models import Entry
    from server.ingest.store import BatchStore

    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"}, [{"id": f"r{uid}", "name": "Li Wei"}])
    masked, plain, old = (event(site, gate, n, resident_id=f"r{uid}") for n in (1, 2, 3))
    masked["person"]["mask"], plain["person"]["mask"] = True, False
    out = run(sessions, BatchStore(IngestSettings()), incoming(masked), incoming(plain), incoming(old))
    assert out.inserted == 3
    with sessions() as s:
        got = dict(s.execute(select(Entry.seq, Entry.mask).where(Entry.gate_id == gate)).all())
    assert got == {1: True, 2: False, 3: None}


def test_masked_templates_can_be_left_out_of_the_gallery_files(sessions):
    """For compounds whose gates predate masked templates (server setting gallery_masked_templates)."""
    import numpy as np

    with sessions.begin() as s:
        s.add(Site(id="s1", name="S"))
        s.add(Resident(id="r1", site_id="s1", name="R"))
        s.flush()
        plain = FacePhoto(resident_id="r1", pack="p", dim=2, embedding=np.ones(2, "<f4").tobytes())
        s.add(plain)
        s.flush()
        s.add(FacePhoto(resident_id="r1", pack="p", dim=2, embedding=np.zeros(2, "<f4").tobytes(),
                        variant=FaceVariant.MASKED, parent_id=plain.id))
    with sessions() as s:
        assert [e.masked for e in collect_entries(s, "s1", "p")] == [False, True]
        assert [e.masked for e in collect_entries(s, "s1", "p", masked=False)] == [False]
    from server.config import load_settings

    assert load_settings(env={}).gallery_masked_templates is True
    assert load_settings(env={}, gallery_masked_templates=False).gallery_masked_templates is False
