"""Reconciliation inside the ingest transaction, on SQLite and PostgreSQL.

Drives BatchStore.process (the worker's transaction body) with contract-shaped payloads, so the
rules are checked without broker timing in the way.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from ingest_kit import event, payload, seed
from sqlalchemy import select

from server.config import IngestSettings
from server.db.models import Alert, Entry, Gate, GateCommand, ResidentStatus
from server.ingest.store import BatchStore
from server.ingest.validate import Incoming

NOW = datetime.now(UTC).replace(microsecond=0)


def incoming(ev: dict | bytes, topic: str | None = None, retain: bool = False) -> Incoming:
    data = ev if isinstance(ev, bytes) else payload(ev)
    t = topic or f"menwei/v1/{ev['site_id']}/{ev['gate_id']}/evt/entry"
    return Incoming(t, data, mid=0, qos=1, retain=retain, received_at=datetime.now(UTC))


def run(sessions, store: BatchStore, *msgs: Incoming):
    with sessions.begin() as s:
        return store.process(s, list(msgs))


def alerts_by_resident(sessions, site: str) -> dict:
    with sessions() as s:
        rows = s.scalars(select(Alert).where(Alert.site_id == site).order_by(Alert.id)).all()
    return [(a.resident_id, a.kind.value, a.detail.get("rule") or a.detail.get("reason")) for a in rows]


def test_entry_is_linked_to_household_and_unit(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    ids = seed(sessions, site, {gate: "in"}, [{"id": f"r{uid}", "name": "Li Wei"}], household=("3", "2-401", "main"))
    ev = event(site, gate, 1, resident_id=f"r{uid}")
    out = run(sessions, BatchStore(IngestSettings()), incoming(ev))
    assert out.inserted == 1 and out.alerts == 0 and out.acks == {gate: (site, 1)}
    with sessions() as s:
        e = s.scalars(select(Entry).where(Entry.gate_id == gate)).one()
        assert (e.resident_id, e.household_id, e.unit_id) == (f"r{uid}", ids["household_id"], ids["unit_id"])
        assert e.matched_by.value == "gate" and not e.has_alert
        assert e.temperature_c == 36.5 and e.track == {"frames": 9, "duration_ms": 420}


def test_status_fever_and_unknown_alerts(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    people = {
        "quar": {"status": ResidentStatus.QUARANTINE, "quarantine_from": NOW - timedelta(days=1),
                 "quarantine_until": NOW + timedelta(days=13)},
        "quar_over": {"status": ResidentStatus.QUARANTINE, "quarantine_from": NOW - timedelta(days=20),
                      "quarantine_until": NOW - timedelta(days=6)},
        "moved": {"status": ResidentStatus.MOVED_OUT},
        "banned": {"status": ResidentStatus.BANNED},
        "visitor_expired": {"status": ResidentStatus.VISITOR, "valid_from": NOW - timedelta(days=2),
                            "valid_until": NOW - timedelta(hours=1)},
        "visitor_early": {"status": ResidentStatus.VISITOR, "valid_from": NOW + timedelta(days=1)},
        "visitor_ok": {"status": ResidentStatus.VISITOR, "valid_from": NOW - timedelta(hours=1),
                       "valid_until": NOW + timedelta(hours=5)},
        "ok": {"status": ResidentStatus.RESIDENT},
    }
    seed(sessions, site, {gate: "both"}, [{"id": f"{k}-{uid}", "name": k, **v} for k, v in people.items()])
    seqs = iter(range(1, 100))
    with sessions.begin() as s:  # the remote open that the override below answers
        s.add(GateCommand(id=uuid.uuid4(), gate_id=gate, kind="open", operator="guard1", reason="courier",
                          issued_at=NOW - timedelta(seconds=20)))

    def ev(who, direction="in", **kw):
        rid = f"{who}-{uid}" if who else None
        return incoming(event(site, gate, next(seqs), resident_id=rid, direction=direction, at=NOW, **kw))

    run(sessions, BatchStore(IngestSettings()),
        ev("quar", "out"), ev("quar_over", "out"), ev("moved", "in"), ev("moved", "out"), ev("banned", "in"),
        ev("visitor_expired", "in"), ev("visitor_early", "in"), ev("visitor_ok", "in"),
        ev(None, decision="denied"), ev(None, override={"operator": "guard1", "reason": "courier known"}),
        ev("ghost"), ev("ok", celsius=38.4, temp_status="fever"))
    got = alerts_by_resident(sessions, site)
    assert sorted(got, key=str) == sorted([
        (f"quar-{uid}", "status_forbids", "quarantine_leaving"),
        (f"moved-{uid}", "status_forbids", "moved_out_entering"),
        (f"banned-{uid}", "status_forbids", "banned_entering"),
        (f"visitor_expired-{uid}", "status_forbids", "expired"),
        (f"visitor_early-{uid}", "status_forbids", "not_yet_valid"),
        (None, "unknown_person", "no_match"),
        (None, "unknown_person", "not_in_compound"),  # ghost: an id the registry does not hold
        (f"ok-{uid}", "fever", None),
    ], key=str)
    with sessions() as s:
        flagged = {e.seq: e.has_alert for e in s.scalars(select(Entry).where(Entry.gate_id == gate))}
    assert [seq for seq, f in sorted(flagged.items()) if f] == [1, 3, 5, 6, 7, 9, 11, 12]


def test_gate_links_only_its_own_compounds_residents(sessions, uid):
    """A gate of B naming A's resident links nothing and learns nothing: the alert is the same as
    for an id that exists nowhere (no existence oracle)."""
    a, b, gate_a, gate_b = f"a{uid}", f"b{uid}", f"ga{uid}", f"gb{uid}"
    seed(sessions, a, {gate_a: "in"}, [{"id": f"lin-{uid}", "name": "Lin Fang", "status": ResidentStatus.QUARANTINE,
                                       "quarantine_until": NOW + timedelta(days=3)}], household=("1", "1-101", "x"))
    seed(sessions, b, {gate_b: "both"})
    store = BatchStore(IngestSettings())
    claims = {"other": f"lin-{uid}", "ghost": f"nobody-{uid}"}
    events = {k: event(b, gate_b, i + 1, resident_id=rid, direction="out", at=NOW + timedelta(seconds=i))
              for i, (k, rid) in enumerate(claims.items())}
    # the same claim twice, 'in' then 'in': would be a double entry if the id were linked
    events["again"] = event(b, gate_b, 3, resident_id=f"lin-{uid}", at=NOW + timedelta(seconds=5))
    events["again2"] = event(b, gate_b, 4, resident_id=f"lin-{uid}", at=NOW + timedelta(seconds=6))
    out = run(sessions, store, *(incoming(e) for e in events.values()))
    assert out.inserted == 4
    with sessions() as s:
        entries = {str(e.event_id): e for e in s.scalars(select(Entry).where(Entry.site_id == b))}
        for ev in events.values():
            e = entries[ev["event_id"]]
            assert (e.resident_id, e.household_id, e.unit_id, e.matched_by, e.score) == (None,) * 5
        alerts = s.scalars(select(Alert).where(Alert.site_id == b).order_by(Alert.id)).all()
        assert {a.kind.value for a in alerts} == {"unknown_person"}  # no quarantine, no double entry
        assert all(a.resident_id is None for a in alerts)
        shape = {k: (sorted(al.detail), al.detail["reason"]) for k in ("other", "ghost")
                 for al in alerts if al.entry_id == entries[events[k]["event_id"]].id}
        assert shape["other"] == shape["ghost"] == (["decision", "direction", "event_id", "reason",
                                                     "reported_resident_id"],
                                                    "not_in_compound")
        assert not s.scalars(select(Alert).where(Alert.site_id == a)).all()
    # the entries with a face crop would go to the district re-match instead (none sent here)
    assert out.rematch == []


def test_double_entry_within_a_batch_and_across_batches(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    rid = f"r{uid}"
    seed(sessions, site, {gate: "both"}, [{"id": rid, "name": "Zhang"}])
    store = BatchStore(IngestSettings(double_entry_window_h=12))
    t0 = NOW - timedelta(hours=3)
    first = event(site, gate, 1, resident_id=rid, direction="in", at=t0)
    run(sessions, store, incoming(first))
    # later batch: another 'in' without an 'out' in between
    second = event(site, gate, 2, resident_id=rid, direction="in", at=t0 + timedelta(minutes=5))
    run(sessions, store, incoming(second))
    # one batch: out, in (fine), in again (double)
    run(sessions, store,
        incoming(event(site, gate, 3, resident_id=rid, direction="out", at=t0 + timedelta(minutes=30))),
        incoming(event(site, gate, 4, resident_id=rid, direction="in", at=t0 + timedelta(minutes=40))),
        incoming(event(site, gate, 5, resident_id=rid, direction="in", at=t0 + timedelta(minutes=50))))
    # the same person at another compound is a different movement (and not that gate's to name)
    other_site, other_gate = f"o{uid}", f"h{uid}"
    seed(sessions, other_site, {other_gate: "in"})
    run(sessions, store, incoming(event(other_site, other_gate, 1, resident_id=rid, direction="in",
                                        at=t0 + timedelta(minutes=55))))
    with sessions() as s:
        rows = s.execute(select(Entry.seq, Alert.detail).join(Alert, Alert.entry_id == Entry.id)
                         .where(Alert.kind == "double_entry", Entry.gate_id == gate).order_by(Entry.seq)).all()
    assert [seq for seq, _ in rows] == [2, 5]
    assert rows[0][1]["previous_event_id"] == first["event_id"]
    assert alerts_by_resident(sessions, other_site) == [(None, "unknown_person", "not_in_compound")]


def test_duplicates_are_not_reconciled_twice(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    fever = incoming(event(site, gate, 1, resident_id=None, celsius=38.9, temp_status="fever"))
    store = BatchStore(IngestSettings())
    a = run(sessions, store, fever, fever)
    b = run(sessions, store, fever)
    assert (a.inserted, a.duplicates, b.inserted, b.duplicates) == (1, 1, 0, 1)
    assert sorted(k for _, k, _ in alerts_by_resident(sessions, site)) == ["fever", "unknown_person"]
    assert b.acks == {gate: (site, 1)}  # a duplicate is acknowledged again


def test_gate_offline_alert_on_transition_only(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    topic = f"menwei/v1/{site}/{gate}/status"
    store = BatchStore(IngestSettings())

    def status(state, retain=False, **extra):
        return incoming(json.dumps({"state": state, **extra}).encode(), topic=topic, retain=retain)

    run(sessions, store, status("offline", retain=True))  # first sight of a retained Will: no news
    run(sessions, store, status("online", agent_version="0.1.0", gallery_version=7, pack="dlib-resnet"))
    run(sessions, store, status("offline"))
    run(sessions, store, status("offline"))
    run(sessions, store, incoming(b'{"fps": 27.5, "outbox_depth": 0}', topic=f"menwei/v1/{site}/{gate}/telemetry"))
    with sessions() as s:
        g = s.get(Gate, gate)
        assert g.state == "offline" and g.gallery_version == 7 and g.agent_version == "0.1.0"
        assert g.last_telemetry["fps"] == 27.5 and g.telemetry_at is not None
    assert alerts_by_resident(sessions, site) == [(None, "gate_offline", None)]
