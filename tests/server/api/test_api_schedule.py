"""A resident's weekly access schedule through the API: accepted, validated (errors name the field),
returned, patched and cleared."""

from __future__ import annotations

from server.api.roles import Role


def test_resident_schedule_round_trip_and_validation(api, uid):
    site = f"s{uid}"
    admin = api.add_user("root", Role.ADMIN, [])
    assert api.client.post("/api/v1/sites", json={"id": site, "name": "Lotus"}, headers=admin).status_code == 201
    c, officer = api.client, api.add_user("officer", Role.COMMUNITY_OFFICER, [site])
    sched = {"mon": [["08:00", "18:00"]], "fri": [["22:00", "06:00"]]}
    r = c.post("/api/v1/residents", json={"id": f"w{uid}", "site_id": site, "name": "Worker",
                                          "schedule": sched}, headers=officer)
    assert r.status_code == 201 and r.json()["schedule"] == sched
    bad = c.post("/api/v1/residents", json={"id": f"x{uid}", "site_id": site, "name": "X",
                                            "schedule": {"mon": [["8am", "18:00"]]}}, headers=officer)
    assert bad.status_code == 422 and "schedule.mon.0.0" in bad.text
    bad = c.patch(f"/api/v1/residents/w{uid}", json={"schedule": {"someday": []}}, headers=officer)
    assert bad.status_code == 422 and "schedule.someday" in bad.text
    assert c.get(f"/api/v1/residents/w{uid}", headers=officer).json()["schedule"] == sched  # unchanged
    p = c.patch(f"/api/v1/residents/w{uid}", json={"schedule": None}, headers=officer)
    assert p.status_code == 200 and p.json()["schedule"] is None
