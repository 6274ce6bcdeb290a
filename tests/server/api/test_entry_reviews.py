"""The entry log's issue-13 parts on SQLite and PostgreSQL: marking a recognition as wrong (scope,
roles, replace, withdraw, audit, figures), the search by name (scope, bound, audit without names),
`has_face`, and who is inside a compound now (window boundary, refused exits, scope)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from menwei.wire import uuid7
from server.api.roles import Role
from server.db.models import AuditLog, Entry, EntryReview, Gate, Resident, Site

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _sites(api, uid: str) -> tuple[str, str]:
    a, b = f"a{uid}", f"b{uid}"
    with api.sessions() as s:
        s.add_all([Site(id=a, name="A"), Site(id=b, name="B")])
        s.flush()
        s.add_all([Gate(id=f"a1{uid}", site_id=a), Gate(id=f"a2{uid}", site_id=a), Gate(id=f"b1{uid}", site_id=b)])
        s.commit()
    return a, b


def _entry(s, site: str, gate: str, at: datetime, resident: str | None = None, direction: str = "in",
           decision: str = "granted", face: bytes | None = None) -> str:
    e = Entry(event_id=uuid7(int(at.timestamp() * 1000)), site_id=site, gate_id=gate, seq=uuid.uuid4().int >> 80,
              captured_at=at, direction=direction, decision=decision, reasons=[], resident_id=resident,
              temperature_status="normal", face_jpeg=face)
    s.add(e)
    s.flush()
    return str(e.event_id)


def _items(api, headers, query: str) -> list[dict]:
    r = api.client.get(f"/api/v1/entries?{query}&limit=500", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_mark_wrong_scope_roles_replace_delete_and_audit(api_any_db, uid):
    api = api_any_db
    a, b = _sites(api, uid)
    with api.sessions() as s:
        s.add(Resident(id=f"r{uid}", site_id=a, name="王小明"))
        s.flush()
        named = _entry(s, a, f"a1{uid}", T0, f"r{uid}", face=b"\xff\xd8 not really a jpeg")
        plain = _entry(s, a, f"a2{uid}", T0 + timedelta(minutes=1))
        s.commit()
    officer = api.add_user("officer-a", Role.COMMUNITY_OFFICER, [a])
    other = api.add_user("officer-b", Role.COMMUNITY_OFFICER, [b])
    guard = api.add_user("guard-a", Role.GUARD, [a])
    manager = api.add_user("manager-a", Role.PROPERTY_MANAGER, [a])
    url = f"/api/v1/entries/{named}/review"
    body = {"kind": "stranger", "note": "a delivery man; 王小明 was at work"}
    # a guard reads the log but may not judge it; a property company reads no entries at all
    assert api.client.put(url, json=body, headers=guard).status_code == 403
    assert api.client.put(url, json=body, headers=manager).status_code == 403
    # another compound's officer: as if the entry did not exist
    assert api.client.put(url, json=body, headers=other).status_code == 404
    assert api.client.delete(url, headers=other).status_code == 404
    # bad input: unknown kind, a note over 500 characters, an unknown field, an unknown entry
    assert api.client.put(url, json={"kind": "ghost"}, headers=officer).status_code == 422
    assert api.client.put(url, json={"kind": "stranger", "note": "x" * 501}, headers=officer).status_code == 422
    assert api.client.put(url, json={"kind": "stranger", "who": "x"}, headers=officer).status_code == 422
    assert api.client.put(f"/api/v1/entries/{uuid7()}/review", json=body, headers=officer).status_code == 404
    r = api.client.put(url, json=body, headers=officer)
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "stranger" and r.json()["by"] == "officer-a"
    items = {i["event_id"]: i for i in _items(api, guard, f"site={a}")}
    assert items[named]["review"]["kind"] == "stranger" and items[named]["review"]["note"] == body["note"]
    assert items[plain]["review"] is None
    assert items[named]["has_face"] is True and items[plain]["has_face"] is False
    # a second verdict replaces the first: still one row, the new kind
    r = api.client.put(url, json={"kind": "wrong_person"}, headers=officer)
    assert r.status_code == 200 and r.json()["note"] is None
    with api.sessions() as s:
        assert s.execute(select(EntryReview.kind, EntryReview.note)).all() == [("wrong_person", None)]
        log = s.execute(select(AuditLog.action, AuditLog.username, AuditLog.object_id, AuditLog.detail)
                        .where(AuditLog.action == "review").order_by(AuditLog.id)).all()
    assert [(x.username, x.object_id, x.detail["kind"], x.detail["replaced"]) for x in log] == [
        ("officer-a", named, "stranger", None), ("officer-a", named, "wrong_person", "stranger")]
    assert "王小明" not in json.dumps(log[0].detail, ensure_ascii=False)  # the note's words are not logged
    assert api.client.get(f"/api/v1/entries/{named}", headers=officer).json()["review"]["kind"] == "wrong_person"
    # withdrawn: gone from the log, audited, and a second DELETE says there is none
    assert api.client.delete(url, headers=guard).status_code == 403
    assert api.client.delete(url, headers=officer).status_code == 204
    assert api.client.delete(url, headers=officer).status_code == 404
    assert {i["event_id"]: i for i in _items(api, officer, f"site={a}")}[named]["review"] is None
    with api.sessions() as s:
        assert s.scalar(select(func.count()).select_from(EntryReview)) == 0
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "delete_review")) == 1


def test_review_figures_per_gate_and_kind(api_any_db, uid):
    api = api_any_db
    a, b = _sites(api, uid)
    admin = api.add_user("root", Role.ADMIN, [])
    with api.sessions() as s:
        ids = {
            "a1-wrong": _entry(s, a, f"a1{uid}", T0),
            "a1-wrong2": _entry(s, a, f"a1{uid}", T0 + timedelta(minutes=1)),
            "a1-stranger": _entry(s, a, f"a1{uid}", T0 + timedelta(minutes=2)),
            "a2-missed": _entry(s, a, f"a2{uid}", T0 + timedelta(minutes=3)),
            "a2-old": _entry(s, a, f"a2{uid}", T0 - timedelta(days=3)),  # before the range asked
            "b1-stranger": _entry(s, b, f"b1{uid}", T0),
        }
        s.commit()
    kinds = {"a1-wrong": "wrong_person", "a1-wrong2": "wrong_person", "a1-stranger": "stranger",
             "a2-missed": "missed_resident", "a2-old": "stranger", "b1-stranger": "stranger"}
    for key, kind in kinds.items():
        assert api.client.put(f"/api/v1/entries/{ids[key]}/review", json={"kind": kind}, headers=admin).status_code == 200
    manager = api.add_user("manager-a", Role.PROPERTY_MANAGER, [a])
    guard = api.add_user("guard-a", Role.GUARD, [a])
    rng = f"since={(T0 - timedelta(days=1)).isoformat()}&until={(T0 + timedelta(days=1)).isoformat()}".replace("+", "%2B")
    r = api.client.get(f"/api/v1/stats/reviews?{rng}", headers=manager)
    assert r.status_code == 200, r.text
    got = [(i["site_id"], i["gate_id"], i["wrong_person"], i["stranger"], i["missed_resident"], i["total"])
           for i in r.json()["items"]]
    assert got == [(a, f"a1{uid}", 2, 1, 0, 3), (a, f"a2{uid}", 0, 0, 1, 1)]  # nothing of B, nothing older
    everyone = api.client.get(f"/api/v1/stats/reviews?{rng}", headers=admin).json()["items"]
    assert sum(i["total"] for i in everyone) == 5
    assert api.client.get(f"/api/v1/stats/reviews?site={b}", headers=manager).status_code == 404
    assert api.client.get("/api/v1/stats/reviews", headers=guard).status_code == 403
    assert api.client.get("/api/v1/stats/reviews?since=2026-03-02T00:00:00&until=2026-03-01T00:00:00",
                          headers=admin).status_code == 422


def test_search_by_name_scope_bound_and_audit(api_any_db, uid):
    api = api_any_db
    a, b = _sites(api, uid)
    with api.sessions() as s:
        s.add_all([Resident(id=f"xm{uid}", site_id=a, name="王小明"), Resident(id=f"dm{uid}", site_id=a, name="王大明"),
                   Resident(id=f"bm{uid}", site_id=b, name="李小明"), Resident(id=f"en{uid}", site_id=a, name="Ann Lee_1")])
        s.flush()
        mine = [_entry(s, a, f"a1{uid}", T0 + timedelta(minutes=i), f"xm{uid}") for i in range(3)]
        _entry(s, a, f"a1{uid}", T0 + timedelta(minutes=5), f"dm{uid}")
        _entry(s, a, f"a1{uid}", T0 + timedelta(minutes=6), f"en{uid}")
        _entry(s, b, f"b1{uid}", T0, f"bm{uid}")
        _entry(s, a, f"a2{uid}", T0)  # nobody
        s.commit()
    officer = api.add_user("officer-a", Role.COMMUNITY_OFFICER, [a])
    guard_b = api.add_user("guard-b", Role.GUARD, [b])
    got = _items(api, officer, "name=小明")
    assert [i["event_id"] for i in got] == mine[::-1]  # her three, newest first; not B's 李小明
    assert {i["resident_id"] for i in _items(api, officer, "name=明")} == {f"xm{uid}", f"dm{uid}"}
    assert [i["resident_id"] for i in _items(api, guard_b, "name=小明")] == [f"bm{uid}"]
    assert _items(api, officer, "name=ann%20lee") and not _items(api, officer, "name=Ann%25")  # case; % is literal
    assert len(_items(api, officer, "name=Lee_1")) == 1 and not _items(api, officer, "name=n_L")  # _ is literal
    assert api.client.get(f"/api/v1/entries?name=小明&site={b}", headers=officer).status_code == 404
    assert api.client.get("/api/v1/entries?name=%20%20", headers=officer).status_code == 422
    # the page can be walked with the search in place
    first = api.client.get("/api/v1/entries?name=小明&limit=2", headers=officer).json()
    rest = api.client.get(f"/api/v1/entries?name=小明&limit=2&cursor={first['next_cursor']}", headers=officer).json()
    assert [i["event_id"] for i in first["items"] + rest["items"]] == mine[::-1] and rest["next_cursor"] is None
    # the audit row says how many residents matched, never what was typed
    with api.sessions() as s:
        details = s.scalars(select(AuditLog.detail).where(AuditLog.username == "officer-a",
                                                          AuditLog.action == "read").order_by(AuditLog.id)).all()
    assert details[0]["filters"]["name_matches"] == 1
    assert all("小明" not in json.dumps(d, ensure_ascii=False) for d in details)
    # one character that matches more than 500 residents must be narrowed
    with api.sessions() as s:
        s.add_all([Resident(id=f"z{i}{uid}", site_id=a, name=f"张{i}") for i in range(501)])
        s.commit()
    r = api.client.get("/api/v1/entries?name=张", headers=officer)
    assert r.status_code == 422 and "500" in r.json()["detail"]
    assert api.client.get("/api/v1/entries?name=张1", headers=officer).status_code == 200  # 111 match
    assert api.client.get("/api/v1/entries?name=张", headers=guard_b).status_code == 200  # none of them are B's


def test_inside_now_window_refused_exits_and_scope(api_any_db, uid):
    api = api_any_db
    a, b = _sites(api, uid)
    now = datetime.now(UTC)
    d31, d29 = now - timedelta(days=31), now - timedelta(days=29)
    g_in, g_out = f"a1{uid}", f"a2{uid}"
    people = ["old_in", "old_in_new_out", "old_out_new_in", "in_refused_out", "in_out", "visitor_b", "refused_in",
              "in_2d", "same_instant", "out_at_b"]
    with api.sessions() as s:
        s.add_all([Resident(id=f"{p}{uid}", site_id=b if p == "visitor_b" else a, name=f"name {p}") for p in people])
        s.flush()
        _entry(s, a, g_in, d31, f"old_in{uid}")  # entered before the window: unknown now
        _entry(s, a, g_in, d31, f"old_in_new_out{uid}")
        _entry(s, a, g_out, d29, f"old_in_new_out{uid}", "out")
        _entry(s, a, g_out, d31, f"old_out_new_in{uid}", "out")
        inside_since = now - timedelta(days=29)
        _entry(s, a, g_in, inside_since, f"old_out_new_in{uid}")
        _entry(s, a, g_in, now - timedelta(days=2), f"in_refused_out{uid}")
        _entry(s, a, g_out, now - timedelta(days=1), f"in_refused_out{uid}", "out", "denied")  # door stayed shut
        _entry(s, a, g_out, now - timedelta(hours=2), f"in_refused_out{uid}", "out", "alert")
        _entry(s, a, g_in, now - timedelta(days=2), f"in_out{uid}")
        _entry(s, a, g_out, now - timedelta(hours=1), f"in_out{uid}", "out")
        _entry(s, a, g_in, now - timedelta(hours=1), f"visitor_b{uid}")  # B's resident, re-matched at A
        _entry(s, a, g_in, now - timedelta(hours=1), f"refused_in{uid}", "in", "denied")
        _entry(s, a, g_in, now - timedelta(days=2), f"in_2d{uid}")
        same = now - timedelta(hours=3)
        _entry(s, a, g_out, same, f"same_instant{uid}", "out")
        _entry(s, a, g_in, same, f"same_instant{uid}")  # same instant, later row: in
        _entry(s, a, g_in, now - timedelta(days=3), f"out_at_b{uid}")
        _entry(s, b, f"b1{uid}", now - timedelta(hours=1), f"out_at_b{uid}", "out")  # another compound's door
        s.commit()
    officer = api.add_user("officer-a", Role.COMMUNITY_OFFICER, [a])
    admin = api.add_user("root", Role.ADMIN, [])
    r = api.client.get(f"/api/v1/sites/{a}/inside?days=30", headers=officer)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = ["same_instant", "in_2d", "in_refused_out", "out_at_b", "old_out_new_in"]  # newest arrival first
    assert [i["resident_id"] for i in body["items"]] == [f"{p}{uid}" for p in expected]
    assert body["count"] == 5 and body["truncated"] is False
    assert body["items"][-1]["gate_id"] == g_in and body["items"][-1]["name"] == "name old_out_new_in"
    assert abs(datetime.fromisoformat(body["items"][-1]["entered_at"]) - inside_since) < timedelta(seconds=1)
    # B's resident is counted where she lives, even by an admin who sees both
    assert [i["resident_id"] for i in api.client.get(f"/api/v1/sites/{a}/inside", headers=admin).json()["items"]] \
        == [f"{p}{uid}" for p in expected]
    one_day = api.client.get(f"/api/v1/sites/{a}/inside?days=1", headers=officer).json()
    assert [i["resident_id"] for i in one_day["items"]] == [f"same_instant{uid}"]
    guard_b = api.add_user("guard-b", Role.GUARD, [b])
    manager = api.add_user("manager-a", Role.PROPERTY_MANAGER, [a])
    assert api.client.get(f"/api/v1/sites/{a}/inside", headers=guard_b).status_code == 404
    assert api.client.get(f"/api/v1/sites/{a}/inside", headers=manager).status_code == 403
    assert api.client.get("/api/v1/sites/nowhere/inside", headers=admin).status_code == 404
    for bad in ("0", "367", "x"):
        assert api.client.get(f"/api/v1/sites/{a}/inside?days={bad}", headers=officer).status_code == 422
    with api.sessions() as s:
        log = s.execute(select(AuditLog.site_id, AuditLog.detail).where(AuditLog.object_type == "inside",
                                                                       AuditLog.username == "officer-a")
                        .order_by(AuditLog.id)).all()
    assert [(x.site_id, x.detail["count"]) for x in log] == [(a, 5), (a, 1)]
    assert "name" not in json.dumps([x.detail for x in log])
