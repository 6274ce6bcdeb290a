"""Visitor passes, door events and local opens through the ingest (BatchStore.process), on SQLite
and PostgreSQL: the server checks a pass the gate accepted against its own record, and raises the
alerts the office reviews. Events are contract-shaped dicts (ingest_kit), passes rows as the
passes API stores them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from ingest_kit import event, seed
from sqlalchemy import select
from test_ingest_rules import entry_msg, run

from server.db.models import Alert, Entry, VisitorPass

NOW = datetime.now(UTC)  # every visit is captured at NOW: the windows below are relative to it


def a_visit(site: str, gate: str, seq: int, pass_id, host: str | None = "host-1", refused: str | None = None,
            reasons=("visitor_pass",)) -> dict:
    ev = event(site, gate, seq, resident_id=None, decision="denied" if refused else "granted", celsius=None,
               temp_status="unavailable", at=NOW)
    ev["reasons"] = [f"pass_{refused}"] if refused else list(reasons)
    ev["visitor_pass"] = {k: v for k, v in {"pass_id": str(pass_id) if pass_id else None, "host_resident_id": host,
                                            "refused": refused}.items() if v is not None}
    return ev


def a_door_event(site: str, gate: str, seq: int, reason: str) -> dict:
    ev = event(site, gate, seq, resident_id=None, celsius=None, temp_status="unavailable")
    ev["reasons"] = [reason]
    return ev


def issue(sessions, site: str, host: str = "host-1", gates=(), **kw) -> uuid.UUID:
    pid = uuid.uuid4()
    with sessions.begin() as s:
        s.add(VisitorPass(id=pid, site_id=site, host_resident_id=host, gates=list(gates),
                          valid_from=kw.get("valid_from", NOW - timedelta(hours=1)),
                          valid_until=kw.get("valid_until", NOW + timedelta(hours=1)), revoked_at=kw.get("revoked_at")))
    return pid


def setup(sessions, uid: str, host: str = "host-1") -> tuple[str, str, dict]:
    site, gate = f"s{uid}", f"g{uid}"
    ids = seed(sessions, site, {gate: "in"}, [{"id": host, "name": "Host"}], household=("B1", "101", "Lee"))
    return site, gate, ids


def stored(sessions, gate: str) -> list[Entry]:
    with sessions() as s:
        return list(s.scalars(select(Entry).where(Entry.gate_id == gate).order_by(Entry.seq)))


def kinds(sessions, site: str) -> list[tuple[str, dict]]:
    with sessions() as s:
        return [(a.kind.value, a.detail) for a in s.scalars(select(Alert).where(Alert.site_id == site)
                                                             .order_by(Alert.id))]


def test_a_known_valid_pass_raises_no_alert_and_links_the_visit_to_the_host(sessions, uid):
    site, gate, ids = setup(sessions, uid)
    pid = issue(sessions, site, gates=(gate,))
    run(sessions, entry_msg(a_visit(site, gate, 1, pid)))
    [e] = stored(sessions, gate)
    assert (e.visitor_pass_id, e.pass_host_resident_id, e.pass_refused) == (pid, "host-1", None)
    assert (e.resident_id, e.household_id, e.unit_id) == (None, ids["household_id"], ids["unit_id"])
    assert kinds(sessions, site) == [] and not e.has_alert


def test_a_pass_the_server_does_not_hold_valid_there_is_pass_unknown(sessions, uid):
    site, gate, _ = setup(sessions, uid)
    other, _, _ = setup(sessions, uid + "x", host="host-2")
    cases = {"unknown": uuid.uuid4(), "unknown ": issue(sessions, other, host="host-2"),  # another compound's: unknown alike
             "revoked": issue(sessions, site, revoked_at=NOW - timedelta(minutes=5)),
             "outside_window": issue(sessions, site, valid_until=NOW - timedelta(minutes=1)),
             "wrong_gate": issue(sessions, site, gates=("elsewhere",))}
    run(sessions, *(entry_msg(a_visit(site, gate, i, pid)) for i, pid in enumerate(cases.values(), 1)))
    got = kinds(sessions, site)
    assert [d["reason"] for k, d in got if k == "pass_unknown"] == [c.strip() for c in cases]
    assert [d["reason"] for k, d in got if k == "unknown_person"] == ["pass_unknown"] * 5
    rows = stored(sessions, gate)
    assert [e.pass_host_resident_id for e in rows] == [None, None, "host-1", "host-1", "host-1"]
    assert all(e.household_id is None for e in rows)


def test_a_pass_revoked_after_the_visit_was_valid_for_it(sessions, uid):
    site, gate, _ = setup(sessions, uid)
    pid = issue(sessions, site, revoked_at=NOW + timedelta(minutes=1))
    run(sessions, entry_msg(a_visit(site, gate, 1, pid)))
    assert kinds(sessions, site) == []


def test_a_refused_pass_is_a_pass_refused_alert_only(sessions, uid):
    site, gate, _ = setup(sessions, uid)
    pid = issue(sessions, site)
    run(sessions, entry_msg(a_visit(site, gate, 1, pid, refused="expired")),
        entry_msg(a_visit(site, gate, 2, None, host=None, refused="bad_signature")))
    assert [(k, d["code"], d["pass_id"]) for k, d in kinds(sessions, site)] == [
        ("pass_refused", "expired", str(pid)), ("pass_refused", "bad_signature", None)]
    assert [e.pass_refused for e in stored(sessions, gate)] == ["expired", "bad_signature"]


def test_door_events_raise_door_alarms_and_never_unknown_person(sessions, uid):
    site, gate, _ = setup(sessions, uid)
    reasons = ["forced_open", "exit_request", "held_open_prealarm", "held_open", "fire_alarm", "fire_alarm_cleared"]
    run(sessions, *(entry_msg(a_door_event(site, gate, i, r)) for i, r in enumerate(reasons, 1)))
    assert [(k, d["alarm"]) for k, d in kinds(sessions, site)] == [
        ("door_alarm", "forced_open"), ("door_alarm", "held_open"), ("door_alarm", "fire_alarm")]


def test_a_local_open_is_a_local_open_alert_only(sessions, uid):
    site, gate, _ = setup(sessions, uid)
    ev = event(site, gate, 1, resident_id=None, override={"operator": "local:guard1", "reason": "courier"})
    ev["reasons"] = ["local_open"]
    run(sessions, entry_msg(ev))
    assert [(k, d["operator"], d["reason"]) for k, d in kinds(sessions, site)] == [
        ("local_open", "local:guard1", "courier")]
    # the same claim without the local operator is an override no command accounts for
    forged = event(site, gate, 2, resident_id=None, override={"operator": "guard1", "reason": "courier"})
    forged["reasons"] = ["local_open"]
    run(sessions, entry_msg(forged))
    assert kinds(sessions, site)[-1][1]["reason"] == "override_without_command"
