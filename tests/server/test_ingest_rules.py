"""What the ingest refuses or flags (issue 8 items 7 and 9), on SQLite and PostgreSQL.

Drives BatchStore.process, the worker's transaction body, with contract-shaped payloads.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from ingest_kit import event, payload, seed
from sqlalchemy import select, update

from server.config import IngestSettings
from server.db.models import Alert, Entry, Gate, GateCommand, QuarantinedMessage
from server.ingest.store import BatchStore
from server.ingest.validate import Incoming


def incoming(data: bytes, topic: str, retain: bool = False) -> Incoming:
    return Incoming(topic, data, mid=0, qos=1, retain=retain, received_at=datetime.now(UTC))


def entry_msg(ev: dict) -> Incoming:
    return incoming(payload(ev), f"menwei/v1/{ev['site_id']}/{ev['gate_id']}/evt/entry")


def run(sessions, *msgs: Incoming):
    with sessions.begin() as s:
        return BatchStore(IngestSettings()).process(s, list(msgs))


def stored_seqs(sessions, gate: str) -> list[int]:
    with sessions() as s:
        return sorted(s.scalars(select(Entry.seq).where(Entry.gate_id == gate)))


def quarantined(sessions, gate: str) -> list[tuple[str, int | None]]:
    with sessions() as s:
        return sorted(s.execute(select(QuarantinedMessage.reason, QuarantinedMessage.seq)
                                .where(QuarantinedMessage.gate_id == gate)).all(), key=str)


def alerts(sessions, site: str) -> list[tuple[str, str | None]]:
    with sessions() as s:
        rows = s.scalars(select(Alert).where(Alert.site_id == site).order_by(Alert.id)).all()
    return [(a.kind.value, a.detail.get("reason")) for a in rows]


def test_entries_of_a_deactivated_gate_are_quarantined_and_acked(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    assert run(sessions, entry_msg(event(site, gate, 1))).acks == {gate: (site, 1)}
    with sessions.begin() as s:
        s.execute(update(Gate).where(Gate.id == gate).values(active=False))
    out = run(sessions, entry_msg(event(site, gate, 2)), entry_msg(event(site, gate, 3)))
    assert stored_seqs(sessions, gate) == [1]
    assert quarantined(sessions, gate) == [("gate_inactive", 2), ("gate_inactive", 3)]
    assert out.acks == {gate: (site, 3)}  # settled: the box stops resending them


def test_integers_past_the_columns_are_refused_cleanly(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    huge = event(site, gate, 2**63)
    big_version = event(site, gate, 1)
    big_version["person"]["gallery_version"] = 2**40
    status = incoming(json.dumps({"state": "online", "gallery_version": 2**63}).encode(),
                      f"menwei/v1/{site}/{gate}/status")
    out = run(sessions, entry_msg(huge), entry_msg(big_version), status)
    assert stored_seqs(sessions, gate) == []
    # seq 1 is plainly this gate's and settles; 2**63 fits no column, so it settles nothing
    assert quarantined(sessions, gate) == [("schema", 1), ("schema", None), ("schema", None)]
    assert out.acks == {gate: (site, 1)}
    ok = run(sessions, entry_msg(event(site, gate, 2**63 - 1)))  # the largest seq a BIGINT holds
    assert ok.inserted == 1 and stored_seqs(sessions, gate) == [2**63 - 1]


def test_captured_at_far_from_arrival_is_refused_and_settled(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    now = datetime.now(UTC)
    msgs = [entry_msg(event(site, gate, 1, at=now - timedelta(days=3))),  # an offline gate's outbox: fine
            entry_msg(event(site, gate, 2, at=datetime(9999, 12, 31, tzinfo=UTC))),
            entry_msg(event(site, gate, 3, at=datetime(1, 1, 2, tzinfo=UTC))),
            entry_msg(event(site, gate, 4, at=now + timedelta(hours=1))),
            entry_msg(event(site, gate, 5, at=now + timedelta(seconds=30)))]  # a little clock drift: fine
    out = run(sessions, *msgs)
    assert stored_seqs(sessions, gate) == [1, 5]
    assert quarantined(sessions, gate) == [("clock_skew", 2), ("clock_skew", 3), ("clock_skew", 4)]
    assert out.acks == {gate: (site, 5)}


def test_an_override_needs_a_matching_remote_open(sessions, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    now = datetime.now(UTC).replace(microsecond=0)
    with sessions.begin() as s:
        s.add(GateCommand(id=uuid.uuid4(), gate_id=gate, kind="open", operator="guard1", reason="courier",
                          issued_at=now - timedelta(seconds=30)))
        s.add(GateCommand(id=uuid.uuid4(), gate_id=gate, kind="open", operator="guard2", reason="old",
                          issued_at=now - timedelta(hours=2)))
        s.add(GateCommand(id=uuid.uuid4(), gate_id=gate, kind="reload", operator="guard3", reason=None,
                          issued_at=now - timedelta(seconds=10)))

    def ev(seq, operator):
        return entry_msg(event(site, gate, seq, resident_id=None, decision="granted", at=now,
                               override={"operator": operator, "reason": "known"}))

    run(sessions, ev(1, "guard1"),  # matches the open 30 s before: no alert
        ev(2, "mallory"),  # nobody of that name opened anything
        ev(3, "guard2"),  # an open two hours earlier does not cover it
        ev(4, "guard3"))  # a reload is not an open
    got = alerts(sessions, site)
    assert got == [("unknown_person", "override_without_command")] * 3
    with sessions() as s:
        flagged = dict(s.execute(select(Entry.seq, Entry.has_alert).where(Entry.gate_id == gate)).all())
        ops = sorted(a.detail["operator"] for a in s.scalars(select(Alert).where(Alert.site_id == site)))
    assert flagged == {1: False, 2: True, 3: True, 4: True}
    assert ops == ["guard2", "guard3", "mallory"]


def test_gate_offline_while_the_worker_was_down_raises_an_alert(sessions, uid):
    """The worker starts and finds the gate's retained Will (retain=1): news, because the gate was
    stored online. A retained Will of a gate never seen online is not."""
    site, gate, fresh = f"s{uid}", f"g{uid}", f"f{uid}"
    seed(sessions, site, {gate: "in", fresh: "in"})

    def status(g, state, retain=False):
        return incoming(json.dumps({"state": state}).encode(), f"menwei/v1/{site}/{g}/status", retain=retain)

    run(sessions, status(gate, "online"))
    # ... the worker is down, the gate dies, Mosquitto retains its Will; the worker comes back:
    run(sessions, status(gate, "offline", retain=True), status(fresh, "offline", retain=True))
    run(sessions, status(gate, "offline", retain=True))  # seen again after a reconnect: no new alert
    with sessions() as s:
        rows = s.execute(select(Alert.gate_id, Alert.kind).where(Alert.site_id == site)).all()
        assert s.get(Gate, gate).state == "offline" and s.get(Gate, fresh).state == "offline"
    assert [(g, k.value) for g, k in rows] == [(gate, "gate_offline")]
