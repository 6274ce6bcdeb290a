"""Input the database cannot hold is a 422 naming the field, on SQLite and on PostgreSQL (issue 8
item 13): integers past an INTEGER column's 32 bits, strings with NUL, explicit nulls in PATCH."""

from __future__ import annotations

import pytest

from server.api.roles import Role

PAST_INT32 = 2**31  # one past PostgreSQL INTEGER; SQLite would have stored it


def _invalid(r, field: str) -> dict:
    assert r.status_code == 422, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == "invalid_input" and field in body["detail"], body
    return body


@pytest.fixture
def site(api_any_db, uid):
    api = api_any_db
    admin = api.add_user("root", Role.ADMIN, [])
    site = f"s{uid}"
    assert api.client.post("/api/v1/sites", json={"id": site, "name": "Lotus"}, headers=admin).status_code == 201
    return api, admin, site


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("GET", f"/api/v1/buildings/{PAST_INT32}/units", None, "path.building_id"),
    ("PATCH", f"/api/v1/units/{PAST_INT32}", {"name": "x"}, "path.unit_id"),
    ("DELETE", f"/api/v1/households/{PAST_INT32}", None, "path.household_id"),
    ("PATCH", f"/api/v1/users/{PAST_INT32}", {"active": True}, "path.user_id"),
    ("GET", f"/api/v1/residents?household_id={PAST_INT32}", None, "query.household_id"),
    ("GET", f"/api/v1/residents/r1/photos/{PAST_INT32}", None, "path.photo_id"),
    ("GET", f"/api/v1/gallery/SITE/{PAST_INT32}?gate=g&sig=x", None, "path.version"),
    ("POST", "/api/v1/residents", {"id": "r2", "site_id": "SITE", "name": "W", "household_id": PAST_INT32},
     "body.household_id"),
    ("GET", f"/api/v1/gates/g1/commands?limit={2**63}", None, "query.limit"),
])
def test_integers_past_their_column_are_422_naming_the_field(site, method, path, body, field):
    api, admin, s = site
    path = path.replace("SITE", s)
    if body:
        body = {k: (s if v == "SITE" else v) for k, v in body.items()}
    _invalid(api.client.request(method, path, json=body, headers=admin), field)


def test_largest_int32_is_still_an_ordinary_not_found(site):
    api, admin, _ = site
    r = api.client.get(f"/api/v1/buildings/{PAST_INT32 - 1}/units", headers=admin)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_grid_worker_user_id_past_int32_is_422(site):
    api, admin, _ = site
    assert api.client.post("/api/v1/grids", json={"id": "g1", "name": "g"}, headers=admin).status_code == 201
    _invalid(api.client.post("/api/v1/grids/g1/workers", json={"name": "Li", "user_id": PAST_INT32},
                             headers=admin), "body.user_id")


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/api/v1/sites", {"id": "n1", "name": "Lo\x00tus"}, "body.name"),
    ("PATCH", "/api/v1/sites/SITE", {"address": "Road\x00 1"}, "body.address"),
    ("POST", "/api/v1/residents", {"id": "r1", "site_id": "SITE", "name": "W", "notes": "x\x00"}, "body.notes"),
    ("POST", "/api/v1/residents", {"id": "r1", "site_id": "SITE", "name": "W",
                                   "schedule": {"mon": [["08:00\x00", "18:00"]]}}, "body.schedule.mon.0.0"),
    ("GET", "/api/v1/sites/a%00b", None, "path.site_id"),
    ("GET", "/api/v1/residents?q=Wa%00ng", None, "query.q"),
])
def test_strings_with_nul_are_422_naming_the_field(site, method, path, body, field):
    api, admin, s = site
    path = path.replace("SITE", s)
    if body:
        body = {k: (s if v == "SITE" else v) for k, v in body.items()}
    _invalid(api.client.request(method, path, json=body, headers=admin), field)
    assert [x["id"] for x in api.client.get("/api/v1/sites", headers=admin).json()] == [s]  # nothing written
    assert api.client.get(f"/api/v1/sites/{s}", headers=admin).json()["address"] is None


def test_login_with_nul_in_the_username_is_422(site):
    api, _, _ = site
    r = api.client.post("/api/v1/auth/token", data={"username": "ro\x00ot", "password": "whatever-1"})
    _invalid(r, "body.username")


@pytest.mark.parametrize("body", [{"direction": None}, {"active": None}])
def test_gate_patch_refuses_null_for_a_required_field(site, body):
    api, admin, s = site
    r = api.client.post("/api/v1/gates", json={"id": "g1", "site_id": s, "direction": "in"}, headers=admin)
    assert r.status_code == 201, r.text
    _invalid(api.client.patch("/api/v1/gates/g1", json=body, headers=admin), f"body.{next(iter(body))}")
    g = api.client.get("/api/v1/gates/g1", headers=admin).json()
    assert (g["direction"], g["active"]) == ("in", True)


@pytest.mark.parametrize("body", [{"role": None}, {"active": None}, {"password": None}, {"sites": None}])
def test_user_patch_refuses_null_for_a_required_field(site, body):
    api, admin, _ = site
    r = api.client.post("/api/v1/users", json={"username": "g", "password": "pass-word-1", "role": "guard"},
                        headers=admin)
    assert r.status_code == 201, r.text
    _invalid(api.client.patch(f"/api/v1/users/{r.json()['id']}", json=body, headers=admin),
             f"body.{next(iter(body))}")
