"""A person re-matched from another compound is shown only as far as the caller's scope allows.

The rows are what the district re-match writes (tests/server/test_rematch.py drives the real
re-match); here the question is only what each role is then shown.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from menwei.wire import uuid7
from server.api.roles import Role
from server.db.models import (
    Alert,
    AlertKind,
    Building,
    Entry,
    Gate,
    Household,
    MatchedBy,
    Resident,
    Site,
    Unit,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def seed(api, uid: str) -> dict:
    a, b = f"a{uid}", f"b{uid}"
    with api.sessions() as s:
        s.add_all([Site(id=a, name="A"), Site(id=b, name="B")])
        s.flush()
        s.add(Gate(id=f"gb{uid}", site_id=b))
        bld = Building(site_id=a, name="7")
        unit = Unit(building=bld, name="7-702")
        hh = Household(unit=unit, name="Lin")
        s.add_all([bld, unit, hh])
        s.flush()
        rid = f"lin-{uid}"
        s.add(Resident(id=rid, site_id=a, household_id=hh.id, name="Lin Fang"))
        s.flush()
        e = Entry(event_id=uuid7(int(AT.timestamp() * 1000)), site_id=b, gate_id=f"gb{uid}", seq=1, captured_at=AT,
                  direction="out", decision="denied", reasons=["no_match"], resident_id=rid, household_id=hh.id,
                  unit_id=unit.id, matched_by=MatchedBy.DISTRICT_REMATCH, score=0.8, temperature_status="normal",
                  has_alert=True)
        s.add(e)
        s.flush()
        note = {"rematched_resident_id": rid, "rematched_site_id": a, "rematch_score": 0.8}
        s.add(Alert(kind=AlertKind.UNKNOWN_PERSON, entry_id=e.id, site_id=b, gate_id=e.gate_id, resident_id=rid,
                    created_at=AT, detail={"reason": "no_match", **note}))
        s.add(Alert(kind=AlertKind.STATUS_FORBIDS, entry_id=e.id, site_id=a, gate_id=e.gate_id, resident_id=rid,
                    created_at=AT, detail={"rule": "quarantine_seen_elsewhere", "status": "quarantine",
                                           "seen_at_site_id": b, **note}))
        s.commit()
        return {"a": a, "b": b, "rid": rid, "event": str(e.event_id)}


def test_rematched_person_of_another_compound_is_hidden_from_its_guard(api, uid):
    ids = seed(api, uid)
    a, b = ids["a"], ids["b"]
    guard_b = api.add_user(f"guard{uid}", Role.GUARD, [b])
    officer_b = api.add_user(f"offb{uid}", Role.COMMUNITY_OFFICER, [b])
    officer_a = api.add_user(f"offa{uid}", Role.COMMUNITY_OFFICER, [a])
    district = api.add_user(f"dist{uid}", Role.COMMUNITY_OFFICER, [a, b])

    for who in (guard_b, officer_b):
        item = api.client.get(f"/api/v1/entries?site={b}", headers=who).json()["items"][0]
        assert (item["resident_id"], item["resident_name"], item["household_id"]) == (None, None, None)
        assert item["person_outside_scope"] is True and item["matched_by"] == "district_rematch"
        assert [al["kind"] for al in item["alerts"]] == ["unknown_person"]  # her status alert is A's
        detail = api.client.get(f"/api/v1/entries/{ids['event']}", headers=who).json()
        assert detail["resident_name"] is None and detail["building"] is None and detail["unit"] is None
        assert "Lin" not in str(detail)
        # filtering by her id answers like an id that exists nowhere: no "was she here?" oracle
        for rid in (ids["rid"], f"nobody-{uid}"):
            assert api.client.get(f"/api/v1/entries?site={b}&resident={rid}", headers=who).json()["items"] == []
        alerts = api.client.get("/api/v1/alerts", headers=who).json()["items"]
        assert [al["kind"] for al in alerts] == ["unknown_person"]
        assert alerts[0]["resident_id"] is None and alerts[0]["resident_name"] is None
        assert alerts[0]["person_outside_scope"] is True
        assert "rematched_resident_id" not in alerts[0]["detail"] and a not in str(alerts[0])
    csv_text = api.client.get(f"/api/v1/entries/export.csv?site={b}", headers=officer_b).content.decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(csv_text)))
    assert row["resident_id"] == "" and row["resident_name"] == "" and "Lin" not in csv_text

    # her own office gets the quarantine alert with her name, not the other compound's entry
    alerts = api.client.get("/api/v1/alerts", headers=officer_a).json()["items"]
    assert [(al["kind"], al["resident_name"]) for al in alerts] == [("status_forbids", "Lin Fang")]
    assert alerts[0]["detail"]["seen_at_site_id"] == b
    assert api.client.get(f"/api/v1/entries/{ids['event']}", headers=officer_a).status_code == 404

    # an officer whose scope covers both compounds sees everything
    item = api.client.get(f"/api/v1/entries?site={b}", headers=district).json()["items"][0]
    assert (item["resident_id"], item["resident_name"], item["person_outside_scope"]) == (ids["rid"], "Lin Fang",
                                                                                          False)
    assert sorted(al["kind"] for al in item["alerts"]) == ["status_forbids", "unknown_person"]
    detail = api.client.get(f"/api/v1/entries/{ids['event']}", headers=district).json()
    assert (detail["building"], detail["unit"]) == ("7", "7-702")
    assert api.client.get(f"/api/v1/entries?site={b}&resident={ids['rid']}", headers=district).json()["items"]
