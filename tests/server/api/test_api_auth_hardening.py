"""Issue 8 item 7 (auth parts): tokens end with a password change, a disabled account costs the
same bcrypt work as a wrong password, unknown login names are not stored, command history is audited."""

from __future__ import annotations

import bcrypt
import pytest
from sqlalchemy import select

from server.api.roles import Role
from server.db.models import AuditLog

PASSWORD = "s3cret-pass"  # the password tests/server/api/conftest.py gives its users


def _login(api, username: str, password: str = PASSWORD):
    return api.client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_token_issued_before_a_password_change_is_refused(api):
    admin = api.add_user("root", Role.ADMIN, [])
    alice = api.add_user("alice", Role.GUARD, [])
    assert api.client.get("/api/v1/auth/me", headers=alice).status_code == 200
    uid = api.client.get("/api/v1/auth/me", headers=alice).json()["id"]
    r = api.client.patch(f"/api/v1/users/{uid}", json={"password": "brand-new-pass"}, headers=admin)
    assert r.status_code == 200
    r = api.client.get("/api/v1/auth/me", headers=alice)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized" and "password was changed" in r.json()["detail"]
    # a fresh login with the new password works; the old password does not
    assert _login(api, "alice").status_code == 401
    tok = _login(api, "alice", "brand-new-pass").json()["access_token"]
    assert api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
    # other changes (the role) do not log the user out: only the password generation counts
    api.client.patch(f"/api/v1/users/{uid}", json={"full_name": "Alice"}, headers=admin)
    assert api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tok}"}).status_code == 200


@pytest.fixture
def bcrypt_calls(monkeypatch):
    """Every bcrypt verification as the cost factor of the hash it ran against ($2b$<cost>$…)."""
    calls: list[int] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        calls.append(int(hashed.split(b"$")[2]))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    return calls


def test_disabled_unknown_and_wrong_password_cost_the_same_bcrypt_work(api, bcrypt_calls):
    admin = api.add_user("root", Role.ADMIN, [])
    api.add_user("bob", Role.GUARD, [])
    bob_id = next(u["id"] for u in api.client.get("/api/v1/users", headers=admin).json() if u["username"] == "bob")
    assert api.client.patch(f"/api/v1/users/{bob_id}", json={"active": False}, headers=admin).status_code == 200
    api.add_user("carol", Role.GUARD, [])
    bcrypt_calls.clear()
    cases = [("carol", "wrong-password"), ("bob", PASSWORD), ("bob", "wrong-password"), ("nobody", PASSWORD)]
    for username, password in cases:
        r = _login(api, username, password)
        assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    # one verification each, all at the accounts' cost (the fixture creates users with rounds=4)
    assert bcrypt_calls == [4, 4, 4, 4]


def test_unknown_login_name_is_not_stored_verbatim(api):
    api.add_user("dave", Role.GUARD, [])
    typed = "Dave'sPassw0rd!"  # a password typed into the username field
    assert _login(api, typed, "whatever-else").status_code == 401
    assert _login(api, typed, "whatever-else").status_code == 401
    assert _login(api, "dave", "wrong-password").status_code == 401
    with api.sessions() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "login_failed").order_by(AuditLog.id)).all()
    names = [r.username for r in rows]
    assert all(typed not in repr((r.username, r.detail, r.object_id)) for r in rows)
    assert names[0] == names[1] and names[0].startswith("unknown-user:")  # repeated attempts still correlate
    assert names[2] == "dave"  # a real account is named as before


def test_reading_a_gates_command_history_is_audited(api, uid):
    admin = api.add_user("root", Role.ADMIN, [])
    site, gate = f"s{uid}", f"g{uid}"
    assert api.client.post("/api/v1/sites", json={"id": site, "name": site}, headers=admin).status_code == 201
    assert api.client.post("/api/v1/gates", json={"id": gate, "site_id": site}, headers=admin).status_code == 201
    assert api.client.get(f"/api/v1/gates/{gate}/commands", headers=admin).status_code == 200
    with api.sessions() as s:
        rows = s.execute(select(AuditLog.username, AuditLog.action, AuditLog.object_type, AuditLog.site_id,
                                AuditLog.detail).where(AuditLog.object_type == "gate_command")).all()
    assert rows == [("root", "read", "gate_command", site, {"gate_id": gate, "count": 0})]
