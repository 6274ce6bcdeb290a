"""Issue 8 item 4: gate credentials open the compound's gallery, so only admins provision gates."""

from __future__ import annotations

from server.api.roles import Role


def _setup(api, uid):
    site = f"s{uid}"
    admin = api.add_user("root", Role.ADMIN, [])
    assert api.client.post("/api/v1/sites", json={"id": site, "name": site}, headers=admin).status_code == 201
    pm = api.add_user("pm", Role.PROPERTY_MANAGER, [site])
    return site, admin, pm


def test_property_manager_cannot_create_a_gate_or_rotate_its_credentials(api, uid):
    site, admin, pm = _setup(api, uid)
    r = api.client.post("/api/v1/gates", json={"id": f"g{uid}", "site_id": site}, headers=pm)
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden" and "gates.provision" in r.json()["detail"]
    assert "mqtt" not in r.json()
    assert api.client.get(f"/api/v1/gates/g{uid}", headers=admin).status_code == 404  # nothing was created

    assert api.client.post("/api/v1/gates", json={"id": f"g{uid}", "site_id": site}, headers=admin).status_code == 201
    r = api.client.post(f"/api/v1/gates/g{uid}/credentials", headers=pm)
    assert r.status_code == 403 and "password" not in r.json()


def test_admin_provisions_and_rotates_property_manager_still_runs_the_gate(api, uid):
    site, admin, pm = _setup(api, uid)
    r = api.client.post("/api/v1/gates", json={"id": f"g{uid}", "site_id": site, "direction": "in"}, headers=admin)
    assert r.status_code == 201 and len(r.json()["mqtt"]["password"]) >= 24
    r2 = api.client.post(f"/api/v1/gates/g{uid}/credentials", headers=admin)
    assert r2.status_code == 200 and r2.json()["password"] != r.json()["mqtt"]["password"]
    # operating the gate stays with the property manager: rename, deactivate, commands, health
    assert api.client.patch(f"/api/v1/gates/g{uid}", json={"name": "north"}, headers=pm).status_code == 200
    assert api.client.get(f"/api/v1/gates/g{uid}", headers=pm).json()["name"] == "north"
    assert api.client.patch(f"/api/v1/gates/g{uid}", json={"active": False}, headers=pm).status_code == 200
