"""A visitor shows a pass to the real gate agent (a video file, dry-run door, the local Mosquitto)
and the real ingest stores it: one use, the door opened once for it, the entry linked to the
host with no unknown_person alert."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from gate_kit import gate_file
from ingest_kit import ago, seed
from sqlalchemy import select
from test_gate_link import run_agent
from test_ingest import make_settings

from edge.agent.agent import GateAgent
from edge.agent.config import load_gate_config
from menwei.passes import new_signing_key, sign_pass
from server.db.models import Alert, AlertKind, Entry, VisitorPass
from server.ingest.worker import IngestWorker
from tests.agent.pass_kit import a_pass, write_pass_video


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_pass_shown_for_two_seconds_opens_once_and_reaches_the_server(db_url, sessions, broker_url, uid, tmp_path,
                                                                       faces_dir, face_engine):
    site, gate = f"s{uid}", f"g{uid}"
    ids = seed(sessions, site, {gate: "in"}, [{"id": f"h{uid}", "name": "Host"}], household=("B", "1", "Wu"))
    key, pub = new_signing_key()
    p = a_pass(site, (gate,), f"h{uid}", pass_id=uuid.uuid4())
    with sessions.begin() as s:  # the row the passes API stores when it issues the pass
        s.add(VisitorPass(id=p.pass_id, site_id=site, host_resident_id=f"h{uid}", gates=[gate],
                          valid_from=ago(hours=1), valid_until=ago(hours=-1)))
    video = write_pass_video(tmp_path / "visit.avi", {sign_pass(p, key): (2.0, 4.0)}, seconds=6.0)
    cfg = load_gate_config(gate_file(tmp_path, site, gate, str(video), broker_url, faces_dir,
                                     thermal={"sensor": "none"},
                                     passes={"public_key": base64.b64encode(pub).decode()}))
    worker = IngestWorker(make_settings(db_url, broker_url, uid, [site]), sessions).start()
    try:
        assert worker.subscribed.wait(10)
        agent = GateAgent(cfg, engine=face_engine)
        assert run_agent(agent) == 0
    finally:
        worker.stop()
    with sessions() as s:
        rows = list(s.scalars(select(Entry).where(Entry.gate_id == gate)))
        alerts = list(s.scalars(select(Alert.kind).where(Alert.site_id == site)))
    assert [(e.decision, e.reasons, e.visitor_pass_id, e.pass_host_resident_id, e.household_id) for e in rows] == [
        ("granted", ["visitor_pass"], p.pass_id, f"h{uid}", ids["household_id"])]
    # no pass alert; the agent's orderly stop at the end of the video says "offline", which the
    # worker sees or not depending on how soon it stops after (a gate_offline alert, or none)
    assert [a for a in alerts if a != AlertKind.GATE_OFFLINE] == []
    assert [(a.cause, a.event_seq) for a in agent.door.actuations] == [("visitor_pass", rows[0].seq)]
    assert agent.pass_check.stats.accepted == 1 and agent.pass_check.stats.repeats > 0
    assert timedelta(0) <= rows[0].received_at - rows[0].captured_at < timedelta(minutes=1)
