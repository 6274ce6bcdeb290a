"""Registry CRUD through the API, photo enrolment with the real face engine, audit rows."""

from __future__ import annotations

from sqlalchemy import select

from server.api.roles import Role
from server.db.models import AuditLog, FacePhoto


def test_registry_crud_and_photos(api, uid, photos):
    site = f"s{uid}"
    admin = api.add_user("root", Role.ADMIN, [])
    assert api.client.post("/api/v1/sites", json={"id": site, "name": "Lotus Garden"}, headers=admin).status_code == 201
    assert api.client.post("/api/v1/sites", json={"id": site, "name": "again"}, headers=admin).status_code == 409
    officer = api.add_user("officer", Role.COMMUNITY_OFFICER, [site])
    c = api.client
    b = c.post(f"/api/v1/sites/{site}/buildings", json={"name": "3"}, headers=officer)
    assert b.status_code == 201
    assert c.post(f"/api/v1/sites/{site}/buildings", json={"name": "3"}, headers=officer).status_code == 409
    u = c.post(f"/api/v1/buildings/{b.json()['id']}/units", json={"name": "2"}, headers=officer).json()
    h = c.post(f"/api/v1/units/{u['id']}/households", json={"name": "1230"}, headers=officer).json()
    h = c.patch(f"/api/v1/households/{h['id']}", json={"name": "1203"}, headers=officer).json()  # typo fixed
    assert h["name"] == "1203"
    assert [x["name"] for x in c.get(f"/api/v1/buildings/{b.json()['id']}/units", headers=officer).json()] == ["2"]
    # by household id, and by names (an unknown unit is refused unless create_units says so)
    r1 = c.post("/api/v1/residents", json={"id": f"r1{uid}", "site_id": site, "name": "Obama",
                                           "household_id": h["id"]}, headers=officer)
    assert r1.status_code == 201 and r1.json()["household"] == "1203" and r1.json()["building"] == "3"
    bad = {"id": f"r2{uid}", "site_id": site, "name": "Biden", "building": "9", "unit": "1", "household": "101"}
    r2 = c.post("/api/v1/residents", json=bad, headers=officer)
    assert r2.status_code == 422 and r2.json()["code"] == "unknown_unit"
    r2 = c.post("/api/v1/residents", json={**bad, "create_units": True, "status": "visitor",
                                           "valid_until": "2026-04-01T00:00:00+08:00"}, headers=officer)
    assert r2.status_code == 201 and r2.json()["valid_until"].startswith("2026-03-31T16:00:00")
    no_end = {"id": f"r3{uid}", "site_id": site, "name": "V", "status": "visitor"}
    assert c.post("/api/v1/residents", json=no_end, headers=officer).status_code == 422
    # patch: status change to quarantine needs an end date, then works
    p = c.patch(f"/api/v1/residents/r1{uid}", json={"status": "quarantine"}, headers=officer)
    assert p.status_code == 422
    p = c.patch(f"/api/v1/residents/r1{uid}", json={"status": "quarantine", "valid_from": "2026-03-01T00:00:00Z",
                                                    "valid_until": "2026-03-15T00:00:00Z"}, headers=officer)
    assert p.status_code == 200 and p.json()["status"] == "quarantine"
    listing = c.get(f"/api/v1/residents?site={site}", headers=officer).json()
    assert listing["total"] == 2 and {x["id"] for x in listing["items"]} == {f"r1{uid}", f"r2{uid}"}
    assert c.get(f"/api/v1/residents?site={site}&status=visitor", headers=officer).json()["total"] == 1

    # photos: one good, then each kind of bad photo, each with the engine's code
    files = [("file", ("obama.jpg", photos["obama"], "image/jpeg"))]
    up = c.post(f"/api/v1/residents/r1{uid}/photos", files=files, headers=officer)
    assert up.status_code == 201, up.text
    assert up.json()["enrolled"] == 1 and up.json()["results"][0]["quality"]["ok"] is True
    for key, code in (("group", "multiple_faces"), ("noface", "no_face"), ("corrupt", "unreadable_image")):
        bad_up = c.post(f"/api/v1/residents/r1{uid}/photos", files=[("file", (f"{key}.jpg", photos[key]))],
                        headers=officer)
        assert bad_up.status_code == 422, key
        assert bad_up.json()["results"][0]["code"] == code
    mixed = c.post(f"/api/v1/residents/r2{uid}/photos", headers=officer,
                   files=[("file", ("a.jpg", photos["biden"])), ("file", ("b.jpg", photos["group"]))])
    assert mixed.status_code == 201
    assert [x["enrolled"] for x in mixed.json()["results"]] == [True, False]
    plist = c.get(f"/api/v1/residents/r1{uid}/photos", headers=officer).json()
    assert len(plist) == 1
    img = c.get(f"/api/v1/residents/r1{uid}/photos/{plist[0]['id']}", headers=officer)
    assert img.status_code == 200 and img.content[:2] == b"\xff\xd8"
    with api.sessions() as s:
        stored = s.scalars(select(FacePhoto).where(FacePhoto.resident_id == f"r1{uid}", FacePhoto.variant == "plain")).all()
        assert len(stored) == 1 and len(stored[0].embedding) == 128 * 4 and stored[0].pack == "dlib-resnet"
    # delete: the resident and its photos go; the change is audited
    assert c.delete(f"/api/v1/residents/r2{uid}", headers=officer).status_code == 204
    assert c.get(f"/api/v1/residents/r2{uid}", headers=officer).status_code == 404
    with api.sessions() as s:
        assert s.scalars(select(FacePhoto).where(FacePhoto.resident_id == f"r2{uid}")).all() == []
        log = set(s.execute(select(AuditLog.username, AuditLog.action, AuditLog.object_type)).all())
    for entry in [("officer", "create", "resident"), ("officer", "update", "resident"),
                  ("officer", "read", "resident"), ("officer", "create", "face_photo"),
                  ("officer", "read", "face_photo"), ("officer", "delete", "resident"), ("root", "create", "site")]:
        assert entry in log, entry


def test_grids_scoped_by_community(api, uid):
    admin = api.add_user("root", Role.ADMIN, [])
    c = api.client
    c.post("/api/v1/communities", json={"id": f"c{uid}", "name": "Community"}, headers=admin)
    c.post("/api/v1/communities", json={"id": f"d{uid}", "name": "Other"}, headers=admin)
    c.post("/api/v1/sites", json={"id": f"s{uid}", "name": "S", "community_id": f"c{uid}"}, headers=admin)
    officer = api.add_user("officer", Role.COMMUNITY_OFFICER, [f"s{uid}"])
    assert c.post("/api/v1/grids", json={"id": f"g{uid}", "name": "Grid 1", "community_id": f"c{uid}"},
                  headers=officer).status_code == 201
    assert c.post("/api/v1/grids", json={"id": f"h{uid}", "name": "Grid 2", "community_id": f"d{uid}"},
                  headers=officer).status_code == 403
    c.post("/api/v1/grids", json={"id": f"h{uid}", "name": "Grid 2", "community_id": f"d{uid}"}, headers=admin)
    assert [g["id"] for g in c.get("/api/v1/grids", headers=officer).json()] == [f"g{uid}"]
    w = c.post(f"/api/v1/grids/g{uid}/workers", json={"name": "Wang", "phone": "138"}, headers=officer)
    assert w.status_code == 201
    assert c.get(f"/api/v1/grids/h{uid}/workers", headers=officer).status_code == 404
    assert c.get(f"/api/v1/grids/g{uid}/workers", headers=officer).json()[0]["name"] == "Wang"
