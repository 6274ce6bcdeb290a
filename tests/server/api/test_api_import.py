"""Residents import with broken rows, against real photos: per-row results, good rows kept,
nothing half-written, re-import safe; the same over HTTP with a zip of photos."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from server.api.roles import Role
from server.audit import Actor
from server.db.models import Building, FacePhoto, Resident, Site, Unit
from server.registry import import_csv as imp
from server.registry.service import Placement, resolve_household

HEADER = "resident_id,name,building,unit,household,status,valid_from,valid_until,phone\n"
ROWS = [
    ("p1", "Obama", "1", "1", "101", "resident", "obama"),
    ("p2", "Biden", "1", "1", "102", "tenant", "group"),  # three faces
    ("p3", "Nobody", "1", "1", "103", "resident", "noface"),
    ("p4", "Broken", "1", "1", "104", "resident", "corrupt"),
    ("p5", "Typo", "9", "1", "101", "resident", "rose"),  # building 9 is not in the registry
    ("p6", "Bad", "1", "1", "105", "astronaut", "alex"),  # invalid status
    ("p7", "Nophoto", "1", "1", "106", "resident", None),
    ("p8", "Kit", "1", "1", "107", "visitor", "kit"),  # visitor needs valid_until …
    ("p9", "Alex", "1", "1", "108", "resident", "alex"),
]
EXPECTED = {"p1": "enrolled", "p2": "multiple_faces", "p3": "no_face", "p4": "bad_image", "p5": "unknown_unit",
            "p6": "invalid_row", "p7": "no_photo", "p8": "invalid_row", "p9": "enrolled"}


def make_csv(uid: str) -> bytes:
    lines = [HEADER]
    for rid, name, b, u, h, status, _ in ROWS:
        lines.append(f"{rid}{uid},{name},{b},{u},{h},{status},,,\n")
    return "".join(lines).encode()


def photo_files(uid: str, photos) -> dict[str, bytes]:
    out = {}
    for rid, *_, key in ROWS:
        if key:
            ext = ".png" if key == "noface" else ".jpg"
            out[f"{rid}{uid}{ext}"] = photos[key]
    return out


@pytest.fixture
def site(api, uid):
    sid = f"s{uid}"
    with api.sessions() as s:
        s.add(Site(id=sid, name="S"))
        s.flush()
        resolve_household(s, sid, Placement("1", "1", "100"), create_units=True)
        s.commit()
    return sid


def results(report) -> dict[str, str]:
    return {r.resident_id: r.result for r in report.rows}


def test_import_broken_rows_from_folder(api, uid, photos, face_engine, site, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, data in photo_files(uid, photos).items():
        (folder / name.upper() if name.startswith("p9") else folder / name).write_bytes(data)  # any case
    actor = Actor("tester")
    report = imp.import_residents(api.sessions, site, make_csv(uid), imp.DirPhotos(folder, 10 << 20),
                                  face_engine, actor)
    assert results(report) == {k + uid: v for k, v in EXPECTED.items()}
    assert report.kept == 3 and report.counts["enrolled"] == 2
    p8 = next(r for r in report.rows if r.resident_id == f"p8{uid}")
    assert "valid_until" in p8.detail
    assert next(r for r in report.rows if r.resident_id == f"p2{uid}").face_code == "multiple_faces"
    with api.sessions() as s:
        kept = set(s.scalars(select(Resident.id).where(Resident.site_id == site)))
        assert kept == {f"p1{uid}", f"p7{uid}", f"p9{uid}"}  # failed rows left nothing behind
        assert s.scalar(select(func.count()).select_from(FacePhoto).where(FacePhoto.variant == "plain")) == 2
        assert s.scalar(select(Building.id).where(Building.name == "9")) is None
    # importing the same file again changes nothing (the import photo is replaced, not added)
    again = imp.import_residents(api.sessions, site, make_csv(uid), imp.DirPhotos(folder, 10 << 20),
                                 face_engine, actor)
    assert results(again) == results(report)
    with api.sessions() as s:
        assert s.scalar(select(func.count()).select_from(FacePhoto).where(FacePhoto.variant == "plain")) == 2
    # with create_units the unknown building is created and the row enrolled
    made = imp.import_residents(api.sessions, site, make_csv(uid), imp.DirPhotos(folder, 10 << 20),
                                face_engine, actor, create_units=True)
    assert results(made)[f"p5{uid}"] == "enrolled"
    with api.sessions() as s:
        b9 = s.scalar(select(Building).where(Building.site_id == site, Building.name == "9"))
        assert b9 is not None and s.scalar(select(Unit.name).where(Unit.building_id == b9.id)) == "1"


def test_row_and_embedding_commit_together(api, uid, photos, face_engine, site, tmp_path, monkeypatch):
    """A failure while storing a row's embedding leaves neither the resident nor the photo."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, data in photo_files(uid, photos).items():
        (folder / name).write_bytes(data)
    real = imp.store_photo

    def failing(s, resident_id, *a, **kw):
        if resident_id == f"p9{uid}":
            raise RuntimeError("disk full")  # injected fault: the database refuses mid-row
        return real(s, resident_id, *a, **kw)

    monkeypatch.setattr(imp, "store_photo", failing)
    with pytest.raises(RuntimeError):
        imp.import_residents(api.sessions, site, make_csv(uid), imp.DirPhotos(folder, 10 << 20), face_engine,
                             Actor("tester"))
    with api.sessions() as s:
        assert s.get(Resident, f"p9{uid}") is None  # not half-written
        assert s.get(Resident, f"p1{uid}") is not None  # earlier good rows kept
        assert s.scalar(select(func.count()).select_from(FacePhoto).where(FacePhoto.variant == "plain")) == 1


def test_import_over_http_with_zip(api, uid, photos, site):
    admin = api.add_user("root", Role.ADMIN, [])
    officer = api.add_user("officer", Role.COMMUNITY_OFFICER, [site])
    guard = api.add_user("guard", Role.GUARD, [site])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in photo_files(uid, photos).items():
            zf.writestr(f"photos/{name}", data)
    files = {"csv": ("residents.csv", make_csv(uid), "text/csv"),
             "photos": ("photos.zip", buf.getvalue(), "application/zip")}
    assert api.client.post(f"/api/v1/sites/{site}/imports", files=files, headers=guard).status_code == 403
    r = api.client.post(f"/api/v1/sites/{site}/imports", files=files, headers=officer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {x["resident_id"]: x["result"] for x in body["rows"]} == {k + uid: v for k, v in EXPECTED.items()}
    assert body["kept"] == 3 and body["counts"]["no_face"] == 1
    # kept rows say whether they made a new resident; refused rows made nothing
    actions = {x["resident_id"]: x["action"] for x in body["rows"]}
    assert actions == {k + uid: ("created" if v in ("enrolled", "no_photo") else None) for k, v in EXPECTED.items()}
    r = api.client.post(f"/api/v1/sites/{site}/imports", files={"csv": files["csv"]}, headers=officer)
    # again without the photos: the three kept before are updated, the rows refused only for
    # their photo are now created without one
    again = {x["resident_id"]: x["action"] for x in r.json()["rows"] if x["action"]}
    assert again == {k + uid: "updated" if v in ("enrolled", "no_photo") else "created" for k, v in EXPECTED.items()
                     if v not in ("unknown_unit", "invalid_row")}
    # a server folder is admin-only (it would read any file the server can)
    form = {"photos_dir": "/etc"}
    r = api.client.post(f"/api/v1/sites/{site}/imports", files={"csv": files["csv"]}, data=form, headers=officer)
    assert r.status_code == 403
    r = api.client.post(f"/api/v1/sites/{site}/imports", files={"csv": ("x.csv", b"name,unit\nx,1\n")},
                        headers=admin)
    assert r.status_code == 422 and "resident_id" in r.json()["detail"]
