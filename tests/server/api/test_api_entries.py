"""The entry log on SQLite and PostgreSQL: filters, keyset pagination, scope, CSV export, alerts."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from menwei.wire import uuid7
from server.api.roles import Role
from server.db.models import Alert, AlertKind, AuditLog, Entry, Gate, Resident, Site

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def seed(api, uid: str, n: int = 60):
    """Two compounds; site A has gates a1/a2; entries every 10 s, with 5 sharing one millisecond."""
    a, b = f"a{uid}", f"b{uid}"
    with api.sessions() as s:
        s.add_all([Site(id=a, name="A"), Site(id=b, name="B")])
        s.flush()
        s.add_all([Gate(id=f"a1{uid}", site_id=a), Gate(id=f"a2{uid}", site_id=a), Gate(id=f"b1{uid}", site_id=b)])
        s.add(Resident(id=f"r{uid}", site_id=a, name="=cmd|' /C calc'!A0"))  # a hostile "name"
        s.flush()
        rows = []
        for i in range(n):
            at = T0 + timedelta(seconds=10 * i) if i >= 5 else T0  # first five at the same instant
            gate = f"a1{uid}" if i % 2 == 0 else f"a2{uid}"
            rows.append(Entry(event_id=uuid7(int(at.timestamp() * 1000)), site_id=a, gate_id=gate, seq=i + 1,
                              captured_at=at, direction="in", decision=["granted", "denied", "alert"][i % 3],
                              reasons=["known"], resident_id=f"r{uid}" if i % 4 == 0 else None,
                              temperature_c=36.5 + (1.5 if i % 10 == 0 else 0),
                              temperature_status="fever" if i % 10 == 0 else "normal", has_alert=i % 10 == 0))
        rows.append(Entry(event_id=uuid.uuid4(), site_id=b, gate_id=f"b1{uid}", seq=1, captured_at=T0,
                          direction="in", decision="granted", reasons=[], temperature_status="unavailable"))
        s.add_all(rows)
        s.flush()
        for e in rows:
            if e.has_alert:
                s.add(Alert(kind=AlertKind.FEVER, entry_id=e.id, site_id=a, gate_id=e.gate_id,
                            resident_id=e.resident_id, created_at=e.captured_at, detail={"celsius": e.temperature_c}))
        s.commit()
    return a, b


def walk(api, headers, query: str, limit: int) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        url = f"/api/v1/entries?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        pages += 1
        assert pages < 100
        if cursor is None:
            return items


def test_filters_and_pagination(api_any_db, uid):
    api = api_any_db
    admin = api.add_user("root", Role.ADMIN, [])
    a, b = seed(api, uid)
    every = walk(api, admin, f"site={a}", limit=7)
    assert len(every) == 60
    assert len({x["event_id"] for x in every}) == 60  # nothing repeated across pages, ties included
    times = [datetime.fromisoformat(x["captured_at"]) for x in every]
    assert times == sorted(times, reverse=True)
    first = every[0]
    assert set(first) >= {"event_id", "site_id", "gate_id", "seq", "captured_at", "decision", "resident_id",
                          "temperature_c", "alerts"}
    # each filter, checked against what was inserted
    assert len(walk(api, admin, f"site={a}&gate=a1{uid}", 9)) == 30
    assert len(walk(api, admin, f"site={a}&decision=denied", 9)) == 20
    assert len(walk(api, admin, f"resident=r{uid}", 9)) == 15
    alerts = walk(api, admin, f"site={a}&alerts_only=true", 4)
    assert len(alerts) == 6 and all(x["alerts"][0]["kind"] == "fever" for x in alerts)
    since = (T0 + timedelta(seconds=100)).isoformat()
    until = (T0 + timedelta(seconds=200)).isoformat().replace("+00:00", "Z")
    window = walk(api, admin, f"site={a}&since={since.replace('+', '%2B')}&until={until}", 3)
    assert [x["seq"] for x in window] == list(range(20, 10, -1))  # since inclusive, until exclusive
    assert len(walk(api, admin, "decision=granted", 50)) == 21  # both compounds for an admin
    assert api.client.get("/api/v1/entries?cursor=garbage", headers=admin).status_code == 422


def test_scope_export_alert_ack_and_audit(api, uid):
    admin = api.add_user("root", Role.ADMIN, [])
    a, b = seed(api, uid, n=12)
    guard_b = api.add_user("guard-b", Role.GUARD, [b])
    officer = api.add_user("officer-a", Role.COMMUNITY_OFFICER, [a])
    # a guard of B sees B's one entry and nothing of A, whichever way it asks
    mine = api.client.get("/api/v1/entries", headers=guard_b).json()["items"]
    assert [x["site_id"] for x in mine] == [b]
    assert api.client.get(f"/api/v1/entries?site={a}", headers=guard_b).status_code == 404
    assert api.client.get(f"/api/v1/entries?gate=a1{uid}", headers=guard_b).json()["items"] == []
    some = api.client.get(f"/api/v1/entries?site={a}", headers=admin).json()["items"][0]["event_id"]
    assert api.client.get(f"/api/v1/entries/{some}", headers=guard_b).status_code == 404
    assert api.client.get(f"/api/v1/entries/{some}", headers=officer).status_code == 200
    # guards may not export; officers may, and the CSV holds exactly the filtered rows
    assert api.client.get(f"/api/v1/entries/export.csv?site={b}", headers=guard_b).status_code == 403
    r = api.client.get(f"/api/v1/entries/export.csv?site={a}&decision=granted", headers=officer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 4 and {x["decision"] for x in rows} == {"granted"}
    named = [x for x in rows if x["resident_id"]]
    assert named and all(x["resident_name"].startswith("'=") for x in named)  # no formula injection
    # alerts: list, acknowledge once, not twice, not from another compound
    alerts = api.client.get(f"/api/v1/alerts?site={a}&open_only=true", headers=officer).json()["items"]
    assert len(alerts) == 2
    assert api.client.post(f"/api/v1/alerts/{alerts[0]['id']}/ack", json={}, headers=guard_b).status_code == 404
    ok = api.client.post(f"/api/v1/alerts/{alerts[0]['id']}/ack", json={"note": "re-checked: 36.8"},
                         headers=officer)
    assert ok.status_code == 200 and ok.json()["acknowledged_by"] == "officer-a"
    assert api.client.post(f"/api/v1/alerts/{alerts[0]['id']}/ack", json={}, headers=officer).status_code == 409
    left = api.client.get(f"/api/v1/alerts?site={a}&open_only=true", headers=officer).json()["items"]
    assert [x["id"] for x in left] == [alerts[1]["id"]]
    # every read of personal data and every change left an audit row naming the user
    with api.sessions() as s:
        log = s.execute(select(AuditLog.username, AuditLog.action, AuditLog.object_type)).all()
        assert ("officer-a", "export", "entry") in log
        assert ("officer-a", "acknowledge", "alert") in log
        assert ("officer-a", "read", "entry") in log
        assert ("guard-b", "read", "entry") in log
        assert s.scalar(select(func.count()).select_from(Alert).where(Alert.acknowledged_at.is_not(None))) == 1


@pytest.mark.parametrize("tz,day_of_t0", [("Asia/Shanghai", "2026-03-01"), ("Pacific/Honolulu", "2026-02-28")])
def test_daily_figures(api_any_db, uid, tz, day_of_t0):
    """Local days are computed by a different SQL function on each database: test both."""
    api = api_any_db
    admin = api.add_user("root", Role.ADMIN, [])
    a, b = seed(api, uid, n=20)
    r = api.client.get(f"/api/v1/stats/daily?site={a}&since=2026-02-28&until=2026-03-02&tz={tz}", headers=admin)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 1 and items[0]["day"] == day_of_t0
    d = items[0]
    assert (d["entries"], d["granted"], d["denied"], d["alert"]) == (20, 7, 7, 6)
    assert d["unique_residents"] == 1 and d["fevers"] == 2


def test_an_entry_shows_the_visitor_pass_it_used(api_any_db, uid):
    api = api_any_db
    admin = api.add_user("root", Role.ADMIN, [])
    a, _ = seed(api, uid, n=1)
    pid = uuid.uuid4()
    with api.sessions() as s:
        e = Entry(event_id=uuid7(), site_id=a, gate_id=f"a1{uid}", seq=2, captured_at=T0 + timedelta(hours=1),
                  direction="in", decision="granted", reasons=["visitor_pass"], temperature_status="unavailable",
                  visitor_pass_id=pid, pass_host_resident_id=f"r{uid}")
        s.add(e)
        s.commit()
        event_id = str(e.event_id)
    listed = api.client.get(f"/api/v1/entries?site={a}", headers=admin).json()["items"][0]
    detail = api.client.get(f"/api/v1/entries/{event_id}", headers=admin).json()
    for got in (listed, detail):
        assert (got["visitor_pass_id"], got["pass_host_resident_id"], got["pass_refused"]) == (str(pid), f"r{uid}",
                                                                                                None)
        assert got["resident_id"] is None  # the visitor is not the host
    exported = api.client.get(f"/api/v1/entries/export.csv?site={a}", headers=admin).content.decode("utf-8-sig")
    (row,) = [r for r in csv.DictReader(io.StringIO(exported)) if r["event_id"] == event_id]
    assert (row["visitor_pass_id"], row["pass_host_resident_id"], row["pass_refused"]) == (str(pid), f"r{uid}", "")


def test_hourly_figures_for_the_dashboard(api_any_db, uid):
    """T0 is 2026-03-01 08:00 UTC, 16:00 in Shanghai: 20 entries 10 s apart all fall in that local
    hour, split over the two gates as the seed alternates them; the other compound is not counted."""
    api = api_any_db
    a, _ = seed(api, uid, n=20)
    officer = api.add_user(f"off-{uid}", Role.COMMUNITY_OFFICER, [a])
    r = api.client.get("/api/v1/stats/hourly?day=2026-03-01&tz=Asia/Shanghai", headers=officer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [h["hour"] for h in body["hours"]] == list(range(24))
    busy = [h for h in body["hours"] if h["entries"]]
    assert [h["hour"] for h in busy] == [T0.astimezone(ZoneInfo("Asia/Shanghai")).hour]
    h = busy[0]
    assert (h["entries"], h["granted"], h["denied"], h["alert"], h["fevers"]) == (20, 7, 7, 6, 2)
    gates = {g["gate_id"]: g["entries"] for g in body["gates"]}
    assert gates == {f"a1{uid}": 10, f"a2{uid}": 10}
    # a compound outside her scope is refused as if it did not exist
    assert api.client.get(f"/api/v1/stats/hourly?site=b{uid}", headers=officer).status_code == 404
    guard = api.add_user(f"guard-{uid}", Role.GUARD, [a])
    assert api.client.get("/api/v1/stats/hourly", headers=guard).status_code == 403
