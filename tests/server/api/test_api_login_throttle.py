"""Issue 8 item 6: password guessing is throttled per account and per client address (429 with
Retry-After, audited), and a refused guess costs no bcrypt work, so other users' logins keep going."""

from __future__ import annotations

import bcrypt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from menwei.throttle import LoginThrottle, Rule
from server.api.roles import Role
from server.db.models import AuditLog

PASSWORD = "s3cret-pass"  # the password tests/server/api/conftest.py gives its users


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_per_account_and_address():
    clock = FakeClock()
    t = LoginThrottle(Rule(3, 60), Rule(5, 60), clock=clock)
    for _ in range(3):  # failures at 1000, 1010, 1020
        assert t.begin("alice", "10.0.0.1") is None
        clock.now += 10
    refused = t.begin("alice", "10.0.0.2")  # at 1030; another address does not help: the account is locked
    assert (refused.scope, refused.retry_after, refused.first) == ("account", 30, True)  # 1000 + 60 - 1030
    clock.now = 1059.5
    again = t.begin("alice", "10.0.0.2")
    assert (again.scope, again.retry_after, again.first) == ("account", 1, False)  # audited once per lock-out
    clock.now = 1060.0  # the failure at 1000 left the window
    assert t.begin("alice", "10.0.0.2") is None
    # 10.0.0.1 keeps 1010 and 1020 in its window; three more attempts reach its address limit of 5
    for name in ("bob", "carol", "dave"):
        assert t.begin(name, "10.0.0.1") is None
    r = t.begin("erin", "10.0.0.1")
    assert (r.scope, r.retry_after) == ("address", 10)  # until the failure at 1010 leaves the window
    # a success clears the account, and gives the address back only its own attempt
    t.succeeded("alice", "10.0.0.2")
    assert t.begin("alice", "10.0.0.2") is None


def test_keys_are_bounded():
    t = LoginThrottle(Rule(1, 60), Rule(1000, 60), max_keys=10, clock=FakeClock())
    for i in range(100):
        t.begin(f"user{i}", f"10.0.{i}.1")
    assert len(t._accounts._windows) == 10 and len(t._addresses._windows) == 10


@pytest.fixture
def bcrypt_calls(monkeypatch):
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    return calls


def _client(api, address: str) -> TestClient:
    # no `with`: the app's lifespan belongs to the fixture's client
    return TestClient(api.app, client=(address, 40000))


def _login(client: TestClient, username: str, password: str):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_flood_against_one_account_is_refused_cheaply_and_others_log_in(api, bcrypt_calls):
    clock = FakeClock()
    api.state.throttle = LoginThrottle(Rule(5, 300), Rule(20, 300), clock=clock)
    api.add_user("alice", Role.GUARD, [])
    api.add_user("bob", Role.GUARD, [])
    attacker, office = _client(api, "203.0.113.7"), _client(api, "198.51.100.2")
    bcrypt_calls.clear()
    answers = [_login(attacker, "alice", f"guess-{i:04d}") for i in range(60)]
    assert [r.status_code for r in answers[:5]] == [401] * 5
    assert {r.status_code for r in answers[5:]} == {429}
    last = answers[-1]
    assert last.headers["Retry-After"] == "300"  # the fake clock did not move: the whole window
    assert last.json() == {"detail": "too many failed logins for this account; retry in 300 s",
                           "code": "too_many_attempts"}
    assert len(bcrypt_calls) == 5  # 55 refused guesses did no hash work at all
    # the locked account is refused even with the right password (the guesser cannot test it) ...
    assert _login(office, "alice", PASSWORD).status_code == 429
    # ... while another user, elsewhere, logs in as usual
    assert _login(office, "bob", PASSWORD).status_code == 200
    with api.sessions() as s:
        rows = s.execute(select(AuditLog.username, AuditLog.ip, AuditLog.detail)
                         .where(AuditLog.action == "login_throttled")).all()
    assert rows == [("alice", "203.0.113.7", {"scope": "account", "retry_after_s": 300})]
    clock.now += 301
    assert _login(office, "alice", PASSWORD).status_code == 200


def test_one_address_guessing_many_accounts_is_refused(api):
    api.state.throttle = LoginThrottle(Rule(5, 300), Rule(20, 300), clock=FakeClock())
    api.add_user("erin", Role.GUARD, [])
    spray = _client(api, "203.0.113.9")
    codes = [_login(spray, f"user{i}", "Winter2026!").status_code for i in range(25)]
    assert codes == [401] * 20 + [429] * 5
    r = _login(spray, "erin", PASSWORD)
    assert r.status_code == 429 and "address" in r.json()["detail"]
    assert _login(_client(api, "198.51.100.3"), "erin", PASSWORD).status_code == 200
    with api.sessions() as s:
        rows = s.scalars(select(AuditLog.username).where(AuditLog.action == "login_throttled")).all()
    assert len(rows) == 1 and rows[0].startswith("unknown-user:")
