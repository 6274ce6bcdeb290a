"""The page's HTTP answers, against a stand-in gate: who gets in, how guessing is slowed, what
/healthz tells an unauthenticated caller, the local open's answers, and the live stream."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from page_kit import ORIGIN, PASSWORD, FakeView, page_section

import edge.page.app as page_app
from edge.page.app import create_app
from edge.page.auth import COOKIE, SessionSigner, same_origin
from edge.page.password import verify_password
from menwei.throttle import LoginThrottle, Rule

STATE = {"fps": 12.5, "outbox": {"depth": 3}, "door": "closed", "updated_at": "2026-01-01T00:00:00+00:00"}


def client(view=None, **kwargs) -> tuple[TestClient, FakeView]:
    view = view or FakeView(STATE)
    return TestClient(create_app(view, page_section(), **kwargs), headers={"Origin": ORIGIN}), view


def logged_in(view=None, **kwargs) -> tuple[TestClient, FakeView]:
    c, view = client(view, **kwargs)
    r = c.post("/api/login", json={"user": "guard", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, view


def test_the_right_password_opens_a_session_in_a_strict_httponly_cookie():
    c, _ = client()
    assert c.post("/api/login", json={"user": "guard", "password": "not-it"}).status_code == 401
    assert c.post("/api/login", json={"user": "other", "password": PASSWORD}).status_code == 401
    assert c.get("/api/state").status_code == 401
    r = c.post("/api/login", json={"user": "guard", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert c.get("/api/me").json() == {"user": "guard"}
    assert c.get("/api/state").json() == STATE
    assert c.post("/api/logout").status_code == 200
    assert c.get("/api/me").status_code == 401


@pytest.mark.parametrize("method, path", [("GET", "/api/state"), ("GET", "/api/me"), ("GET", "/events"),
                                          ("POST", "/api/open")])
def test_every_api_route_wants_a_login(method, path):
    c, view = client()
    r = c.request(method, path, json={"reason": "x"} if method == "POST" else None)
    assert r.status_code == 401 and r.json() == {"detail": "log in first"}
    assert view.opens == []


def test_a_forged_or_expired_session_is_refused():
    now = [1000.0]
    signer = SessionSigner(60, clock=lambda: now[0])
    c, _ = logged_in(signer=signer)
    good = c.cookies[COOKIE]
    user, expiry, sig = good.split(".")
    c.cookies.set(COOKIE, f"admin.{expiry}.{sig}")
    assert c.get("/api/me").status_code == 401
    c.cookies.set(COOKIE, good)
    assert c.get("/api/me").status_code == 200
    now[0] += 61
    assert c.get("/api/me").status_code == 401


def test_failed_logins_are_throttled_before_the_password_is_checked(monkeypatch):
    now = [0.0]
    checks = []

    def counting(password, encoded):
        checks.append(password)
        return verify_password(password, encoded)

    monkeypatch.setattr(page_app, "verify_password", counting)
    c, _ = client(throttle=LoginThrottle(Rule(5, 60.0), Rule(5, 60.0), clock=lambda: now[0]))
    for i in range(5):
        assert c.post("/api/login", json={"user": "guard", "password": f"guess{i}"}).status_code == 401
    # the sixth attempt is refused unheard, even with the right password, and costs no scrypt work
    r = c.post("/api/login", json={"user": "guard", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 60
    assert "too many failed logins" in r.json()["detail"]
    assert len(checks) == 5
    now[0] += 61  # the window has passed
    assert c.post("/api/login", json={"user": "guard", "password": PASSWORD}).status_code == 200


def test_healthz_needs_no_login_and_says_only_ok():
    c, _ = client(FakeView(STATE, alive=True))
    r = c.get("/healthz")
    assert (r.status_code, r.content) == (200, b'{"ok":true}')
    c, _ = client(FakeView(None, alive=False))
    r = c.get("/healthz")
    assert (r.status_code, r.json()) == (503, {"ok": False})


def test_the_page_itself_is_served_with_its_script_and_style():
    c, _ = client()
    html = c.get("/")
    assert html.status_code == 200 and "/static/page.js" in html.text and "/static/page.css" in html.text
    assert "default-src 'self'" in html.headers["content-security-policy"]
    for path, kind in (("/static/page.js", "javascript"), ("/static/page.css", "text/css")):
        r = c.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"]


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_local_open_without_a_reason_is_refused(reason):
    c, view = logged_in()
    r = c.post("/api/open", json={"reason": reason})
    assert r.status_code == 422 and r.json()["detail"].startswith("reason: a local open needs a reason")
    assert view.opens == []
    r = c.post("/api/open", json={})
    assert r.status_code == 422 and view.opens == []


def test_a_local_open_is_asked_of_the_gate_under_the_users_name():
    c, view = logged_in(FakeView(STATE, seq=42))
    r = c.post("/api/open", json={"reason": "  parcel   delivery "})
    assert (r.status_code, r.json()) == (200, {"seq": 42})
    assert view.opens == [("guard", "parcel delivery")]
    assert c.post("/api/open", json={"reason": "x" * 201}).status_code == 422


def test_a_full_outbox_keeps_the_door_shut_and_says_so():
    c, _ = logged_in(FakeView(STATE, seq=None))
    r = c.post("/api/open", json={"reason": "visitor"})
    assert (r.status_code, r.json()) == (503, {"detail": "outbox full: the door stays shut"})


def test_an_unconfirmed_open_does_not_claim_the_door_stayed_shut(monkeypatch):
    monkeypatch.setattr(page_app, "OPEN_WAIT_S", 0.2)
    c, _ = logged_in(FakeView(STATE, answer=False))
    r = c.post("/api/open", json={"reason": "visitor"})
    assert r.status_code == 504 and "did not confirm" in r.json()["detail"]


@pytest.mark.parametrize("origin", ["http://evil.example", "null", None])
def test_posts_from_another_origin_are_refused(origin):
    c, view = logged_in()
    headers = {"Origin": origin} if origin else {}
    if origin is None:
        c.headers.pop("Origin")
    r = c.post("/api/open", json={"reason": "csrf"}, headers=headers)
    assert r.status_code == 403 and view.opens == []


def test_same_origin_compares_the_origin_or_referer_with_the_host():
    assert same_origin({"host": "gate:8080", "origin": "http://gate:8080"})
    assert same_origin({"host": "gate:8080", "referer": "http://gate:8080/"})
    assert not same_origin({"host": "gate:8080", "origin": "http://gate:8081"})
    assert not same_origin({"host": "gate:8080"})


def test_the_stream_carries_decisions_with_their_face_crop():
    view = FakeView(STATE)
    jpeg = b"\xff\xd8\xff\xe0 not really a picture \xff\xd9"
    view.feed.publish("door", {"seq": 1, "reason": "exit_request", "at": 1.0})
    view.feed.publish("decision", {"seq": 2, "identity": "obama", "name": "Obama", "decision": "granted",
                                   "reasons": ["resident_recognised"], "temperature_c": 36.6, "face_jpeg": jpeg,
                                   "at": 2.0})
    c, _ = logged_in(view)
    app = c.app
    frames = []
    with c.stream("GET", "/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        event = {}
        for line in r.iter_lines():
            if line.startswith(("event:", "id:", "data:")):
                key, _, value = line.partition(": ")
                event[key] = value
            elif not line and "data" in event:
                frames.append(event)
                event = {}
                if len(frames) == 2:
                    app.state.stopping.set()  # the gate stops: the stream ends
    assert [(f["event"], f["id"]) for f in frames] == [("door", "1"), ("decision", "2")]
    decision = json.loads(frames[1]["data"])
    assert decision["name"] == "Obama" and "face_jpeg" not in decision
    prefix = "data:image/jpeg;base64,"
    assert decision["face"].startswith(prefix) and base64.b64decode(decision["face"][len(prefix):]) == jpeg
