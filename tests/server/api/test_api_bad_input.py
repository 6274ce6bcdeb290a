"""Input the schema fuzzer found to give 500s or wrong answers (issue 8 items 7 and 13).

Every answer here must be a 4xx with the shared error body: {"detail": str, "code": str, ...}.
"""

from __future__ import annotations

import pytest

from server.api.roles import Role

BIG = 2**64  # past SQLite's and PostgreSQL's 64-bit integers


def _error(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body["detail"], str) and isinstance(body["code"], str)
    return body


@pytest.fixture
def two(api, uid):
    admin = api.add_user("root", Role.ADMIN, [])
    a, b = f"a{uid}", f"b{uid}"
    for site in (a, b):
        assert api.client.post("/api/v1/sites", json={"id": site, "name": site}, headers=admin).status_code == 201
    return api, admin, a, b


@pytest.mark.parametrize("path", [
    f"/api/v1/buildings/{BIG}/units", f"/api/v1/units/{BIG}/households", f"/api/v1/alerts?limit={BIG}",
    f"/api/v1/residents?offset={BIG}", f"/api/v1/residents?household_id={BIG}", f"/api/v1/audit?before_id={BIG}",
    f"/api/v1/entries?limit={BIG}",
])
def test_integers_past_64_bits_are_422(two, path):
    api, admin, _, _ = two
    _error(api.client.get(path, headers=admin), 422)


def test_cursor_with_huge_row_id_is_422(two):
    import base64
    import json
    api, admin, a, _ = two
    raw = json.dumps(["2026-01-01T00:00:00+00:00", BIG]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    _error(api.client.get(f"/api/v1/entries?site={a}&cursor={cursor}", headers=admin), 422)


@pytest.mark.parametrize("query", ["since=0001-01-01&until=0001-01-02", "since=9999-12-30&until=9999-12-31"])
def test_daily_figures_at_the_ends_of_the_calendar_are_422(two, query):
    api, admin, _, _ = two
    _error(api.client.get(f"/api/v1/stats/daily?{query}", headers=admin), 422)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"])
def test_times_at_the_ends_of_the_calendar_are_422(two, when):
    api, admin, a, _ = two
    from urllib.parse import quote
    _error(api.client.get(f"/api/v1/entries?site={a}&since={quote(when)}", headers=admin), 422)


def test_non_ascii_sig_on_the_gallery_link_is_401(two):
    api, _, a, _ = two
    _error(api.client.get(f"/api/v1/gallery/{a}/1?gate=g1&sig=%E9%97%A8"), 401)


@pytest.mark.parametrize("body", [{"name": None}, {"community_id": "nosuch"}, {"community_id": ""}])
def test_site_patch_refuses_null_names_and_unknown_communities(two, body):
    api, admin, a, _ = two
    _error(api.client.patch(f"/api/v1/sites/{a}", json=body, headers=admin), 422)
    assert api.client.get(f"/api/v1/sites/{a}", headers=admin).json()["name"] == a  # nothing written


def test_resident_patch_refuses_null_name(two):
    api, admin, a, _ = two
    r = api.client.post("/api/v1/residents", json={"id": "r1", "site_id": a, "name": "Wang", "status": "resident"},
                        headers=admin)
    assert r.status_code == 201, r.text
    _error(api.client.patch("/api/v1/residents/r1", json={"name": None}, headers=admin), 422)
    _error(api.client.patch("/api/v1/residents/r1", json={"status": None}, headers=admin), 422)
    assert api.client.get("/api/v1/residents/r1", headers=admin).json()["name"] == "Wang"


@pytest.mark.parametrize("body", [{"id": "c1", "name": "c", "subdistrict_id": ""},
                                  {"id": "c1", "name": "c", "subdistrict_id": "nosuch"}])
def test_community_with_empty_or_unknown_subdistrict_is_422(two, body):
    api, admin, _, _ = two
    _error(api.client.post("/api/v1/communities", json=body, headers=admin), 422)


def test_grid_worker_with_unknown_user_is_422_not_conflict(two):
    api, admin, _, _ = two
    assert api.client.post("/api/v1/grids", json={"id": "g1", "name": "g"}, headers=admin).status_code == 201
    body = _error(api.client.post("/api/v1/grids/g1/workers", json={"name": "Li", "user_id": 999999},
                                  headers=admin), 422)
    assert "999999" in body["detail"] and "exists" not in body["detail"].replace("does not exist", "")


def test_building_with_empty_grid_is_422(two):
    api, admin, a, _ = two
    _error(api.client.post(f"/api/v1/sites/{a}/buildings", json={"name": "1", "grid_id": ""}, headers=admin), 422)


def test_officer_cannot_attach_a_building_to_another_compounds_grid(two, uid):
    api, admin, a, b = two
    for cid, site in (("ca", a), ("cb", b)):
        assert api.client.post("/api/v1/communities", json={"id": cid, "name": cid}, headers=admin).status_code == 201
        assert api.client.patch(f"/api/v1/sites/{site}", json={"community_id": cid},
                                headers=admin).status_code == 200
    assert api.client.post("/api/v1/grids", json={"id": "gb", "name": "g", "community_id": "cb"},
                           headers=admin).status_code == 201
    officer = api.add_user("off", Role.COMMUNITY_OFFICER, [a])
    r = api.client.post(f"/api/v1/sites/{a}/buildings", json={"name": "1", "grid_id": "gb"}, headers=officer)
    _error(r, 404)
    ok = api.client.post(f"/api/v1/sites/{a}/buildings", json={"name": "1"}, headers=officer)
    assert ok.status_code == 201
    _error(api.client.patch(f"/api/v1/buildings/{ok.json()['id']}", json={"grid_id": "gb"}, headers=officer), 404)
    # the admin sees every grid: the same attachment is allowed
    assert api.client.patch(f"/api/v1/buildings/{ok.json()['id']}", json={"grid_id": "gb"},
                            headers=admin).status_code == 200


def test_duplicate_building_is_409(two):
    api, admin, a, _ = two
    assert api.client.post(f"/api/v1/sites/{a}/buildings", json={"name": "1"}, headers=admin).status_code == 201
    _error(api.client.post(f"/api/v1/sites/{a}/buildings", json={"name": "1"}, headers=admin), 409)
