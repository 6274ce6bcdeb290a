"""PUT /gates/{id}/config reaches a real gate agent over the real broker, and GET shows what the
gate reports running; a config the gate's own model refuses is refused by the server first."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import paho.mqtt.client as paho
from gate_kit import gate_file
from ingest_kit import wait_for
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from test_ingest import make_settings

from edge.agent.agent import GateAgent
from edge.agent.config import load_gate_config
from edge.face.engine import FaceEngine
from menwei.mqtt import BrokerUrl
from menwei.wire import Channel, topic
from server.api.roles import Role
from server.db.models import AuditLog, Gate
from server.ingest.worker import IngestWorker


def _setup(api, uid):
    site, other = f"s{uid}", f"o{uid}"
    api.add_site(site)
    api.add_site(other)
    admin = api.add_user(f"root{uid}", Role.ADMIN, [])
    pm = api.add_user(f"pm{uid}", Role.PROPERTY_MANAGER, [site])
    r = api.client.post("/api/v1/gates", json={"id": f"g{uid}", "site_id": site, "direction": "in"}, headers=admin)
    assert r.status_code == 201, r.text
    return site, other, f"g{uid}", admin, pm


def _retained(broker_url: str, t: str, wait_s: float = 1.5) -> bytes | None:
    got: list[bytes] = []
    c = paho.Client(CallbackAPIVersion.VERSION2)
    c.on_message = lambda _c, _u, m: got.append(m.payload)
    b = BrokerUrl.parse(broker_url)
    c.connect(b.host, b.port)
    c.loop_start()
    c.subscribe(t, qos=1)
    time.sleep(wait_s)
    c.loop_stop()
    c.disconnect()
    return got[-1] if got and got[-1] else None


def test_config_is_validated_with_the_gates_model_and_scoped_by_role(api, uid, broker_url):
    site, other, gate, admin, pm = _setup(api, uid)
    url = f"/api/v1/gates/{gate}/config"
    fresh = api.client.get(url, headers=pm).json()
    assert (fresh["desired"], fresh["desired_version"], fresh["in_sync"]) == (None, 0, None)
    assert fresh["effective"]["door_open_ms"] == 3000  # the gate's own default, not the server's guess
    for body, field in (({"door_open_ms": 5}, "door_open_ms"), ({"policy": {"fever": "lukewarm"}}, "fever"),
                        ({"nosuch": 1}, "nosuch"), ({"command_ttl_s": 0}, "command_ttl_s")):
        r = api.client.put(url, json=body, headers=pm)
        assert r.status_code == 422 and field in r.json()["detail"], (body, r.text)
    assert api.client.get(url, headers=pm).json()["desired_version"] == 0  # nothing stored by a refusal
    guard = api.add_user(f"guard{uid}", Role.GUARD, [site])
    assert api.client.put(url, json={"door_open_ms": 2000}, headers=guard).status_code == 403
    stranger = api.add_user(f"pm2{uid}", Role.PROPERTY_MANAGER, [other])
    assert api.client.get(url, headers=stranger).status_code == 404
    assert api.client.put(url, json={"door_open_ms": 2000}, headers=stranger).status_code == 404
    r = api.client.put(url, json={"door_open_ms": 2000}, headers=pm)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["desired"], out["desired_version"], out["set_by"], out["published"]) == (
        {"door_open_ms": 2000}, 1, f"pm{uid}", True)
    assert out["effective"]["door_open_ms"] == 2000 and out["in_sync"] is False
    with api.sessions() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "update_config")).all()
    assert [(a.object_id, a.site_id) for a in audit] == [(gate, site)]
    # retained at the broker for the gate, then cleared with the gate
    t = topic(site, gate, Channel.CONFIG)
    assert b'"version":1' in (_retained(broker_url, t) or b"")
    assert api.client.delete(f"/api/v1/gates/{gate}", headers=admin).status_code == 204
    assert _retained(broker_url, t) is None


def test_a_gate_agent_runs_the_config_an_officer_sets(api, uid, broker_url, tmp_path, faces_dir):
    site, _other, gate, admin, pm = _setup(api, uid)
    url = f"/api/v1/gates/{gate}/config"
    empty = tmp_path / "empty"  # a camera that shows nobody
    empty.mkdir()
    cv2.imwrite(str(empty / "0.jpg"), np.full((360, 640, 3), 90, np.uint8))
    cfg = load_gate_config(gate_file(tmp_path, site, gate, str(empty), broker_url, faces_dir,
                                     thermal={"sensor": "none"}))
    worker = IngestWorker(make_settings(api.url, broker_url, uid, [site]), api.sessions).start()
    agent = GateAgent(cfg, engine=FaceEngine.load())
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        assert worker.subscribed.wait(10)
        assert wait_for(lambda: agent.link.stats.connected, timeout=20)
        r = api.client.put(url, json={"door_open_ms": 1234, "policy": {"fever": "soft"}}, headers=pm)
        assert r.status_code == 200 and r.json()["desired_version"] == 1, r.text
        assert wait_for(lambda: agent.config_version == 1, timeout=10)
        assert agent.remote.door_open_ms == 1234 and agent.remote.policy.fever == "soft"
        # the gate's status, through the ingest worker, says it runs the desired version
        assert wait_for(lambda: api.client.get(url, headers=pm).json()["in_sync"] is True, timeout=15)
        got = api.client.get(url, headers=pm).json()
        assert (got["reported_version"], got["error"]) == (1, None)
        # a database restored from an old backup forgot version 1; the next one is still above what the gate runs
        with api.sessions() as s:
            s.get(Gate, gate).desired_config_version = 0
            s.commit()
        r = api.client.put(url, json={"door_open_ms": 4321}, headers=pm)
        assert r.json()["desired_version"] == 2
        assert wait_for(lambda: agent.config_version == 2 and agent.remote.door_open_ms == 4321, timeout=10)
        assert agent.remote.policy.fever != "soft"  # a PUT replaces the config: left-out fields are defaults
    finally:
        agent.stop()
        runner.join(20)
        worker.stop()
    assert api.client.delete(f"/api/v1/gates/{gate}", headers=admin).status_code == 204
