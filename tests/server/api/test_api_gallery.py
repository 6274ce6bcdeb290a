"""Gallery publishing and gate commands against the real Mosquitto: retained ctl/gallery whose
sha256 matches the file the signed link serves; remote commands on ctl/cmd."""

from __future__ import annotations

import hashlib
import json
import queue
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from edge.face.gallery import Gallery
from edge.face.image_io import decode_image
from menwei.wire import Channel, Command, GalleryAnnouncement, topic
from server.api.roles import Role
from server.db.models import AuditLog, Gate, GateCommand


class Listener:
    """A plain MQTT subscriber, as a gate would be."""

    def __init__(self, broker_url: str, topics: list[str]):
        parts = urlsplit(broker_url)
        self.q: queue.Queue = queue.Queue()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gate-sim-{uuid.uuid4().hex[:8]}")
        self.c.on_message = lambda _c, _u, m: self.q.put((m.topic, m.payload, m.retain))
        subscribed = queue.Queue()
        self.c.on_subscribe = lambda *a: subscribed.put(1)
        self.c.connect(parts.hostname, parts.port or 1883)
        self.c.loop_start()
        for t in topics:
            self.c.subscribe(t, qos=1)
            subscribed.get(timeout=5)

    def next(self, timeout: float = 10.0, want=lambda t, p: True):
        while True:
            t, p, retain = self.q.get(timeout=timeout)
            if want(t, p):
                return t, p, retain

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def setup(api, uid):
    site, gate = f"s{uid}", f"g{uid}"
    admin = api.add_user("root", Role.ADMIN, [])
    assert api.client.post("/api/v1/sites", json={"id": site, "name": "S"}, headers=admin).status_code == 201
    r = api.client.post("/api/v1/gates", json={"id": gate, "site_id": site, "direction": "in"}, headers=admin)
    assert r.status_code == 201
    creds = r.json()["mqtt"]
    assert creds["username"] == f"gate.{gate}" and len(creds["password"]) >= 24
    return site, gate, admin


def fetch(api, url: str):
    parts = urlsplit(url)
    return api.client.get(f"{parts.path}?{parts.query}")


def test_gallery_published_retained_and_served(api, uid, broker_url, photos, face_engine, setup):
    site, gate, admin = setup
    officer = api.add_user("officer", Role.COMMUNITY_OFFICER, [site])
    c = api.client
    for rid, key in ((f"ob{uid}", "obama"), (f"bi{uid}", "biden")):
        assert c.post("/api/v1/residents", json={"id": rid, "site_id": site, "name": key},
                      headers=officer).status_code == 201
        assert c.post(f"/api/v1/residents/{rid}/photos", files=[("file", (f"{key}.jpg", photos[key]))],
                      headers=officer).status_code == 201
    assert api.state.republisher.flush(30)
    # a gate connecting afterwards gets the retained announcement
    gal_topic = topic(site, gate, Channel.GALLERY)
    gate_sim = Listener(broker_url, [gal_topic])
    try:
        _, payload, retained = gate_sim.next()
        assert retained
        ann = GalleryAnnouncement.model_validate_json(payload)
        assert ann.count == 2 and ann.pack == "dlib-resnet"
        got = fetch(api, ann.url)
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == ann.sha256 == got.headers["x-menwei-sha256"]
        g = Gallery.from_bytes(got.content)
        assert g.version == ann.version and g.identities == sorted([f"ob{uid}", f"bi{uid}"])
        assert g.attributes[f"ob{uid}"]["status"] == "resident"
        # the file recognises a different photo of the same person
        probe = face_engine.get().enrol(decode_image(photos["obama2"])).embedding
        assert g.search(np.asarray([probe]), k=1)[0][0].identity == f"ob{uid}"
        # links are per gate and signed
        bad = ann.url.replace("sig=", "sig=0")
        assert fetch(api, bad).status_code == 401
        # a status change republishes: banned now, under a new version
        assert c.patch(f"/api/v1/residents/ob{uid}", json={"status": "banned"}, headers=officer).status_code == 200
        assert api.state.republisher.flush(30)
        _, payload2, _ = gate_sim.next(want=lambda t, p: json.loads(p)["version"] > ann.version)
        ann2 = GalleryAnnouncement.model_validate_json(payload2)
        g2 = Gallery.from_bytes(fetch(api, ann2.url).content)
        assert g2.attributes[f"ob{uid}"]["status"] == "banned"
        # publishing with nothing changed makes no new version
        again = c.post(f"/api/v1/sites/{site}/gallery/publish", headers=officer).json()
        assert again["created"] is False and again["version"] == ann2.version
    finally:
        gate_sim.close()
    # the gates API shows what the gate reports (set here as the ingest worker stores it)
    with api.sessions() as s:
        s.get(Gate, gate).gallery_version = ann.version
        s.commit()
    info = c.get(f"/api/v1/gates/{gate}", headers=officer).json()
    assert info["gallery_version"] == ann.version and info["published_gallery_version"] == ann2.version
    assert info["gallery_current"] is False
    # a deactivated gate's link stops working
    assert c.patch(f"/api/v1/gates/{gate}", json={"active": False}, headers=admin).status_code == 200
    assert fetch(api, ann2.url).status_code == 403
    # deleting the gate clears its retained announcement (and leaves the shared broker clean)
    assert c.delete(f"/api/v1/gates/{gate}", headers=admin).status_code == 204
    after = Listener(broker_url, [gal_topic])
    try:
        with pytest.raises(queue.Empty):
            after.next(timeout=1.0)
    finally:
        after.close()


def test_remote_commands(api, uid, broker_url, setup):
    site, gate, admin = setup
    guard = api.add_user("guard", Role.GUARD, [site])
    pm = api.add_user("pm", Role.PROPERTY_MANAGER, [site])
    gate_sim = Listener(broker_url, [topic(site, gate, Channel.CMD)])
    try:
        c = api.client
        assert c.post(f"/api/v1/gates/{gate}/commands", json={"kind": "open"}, headers=guard).status_code == 422
        r = c.post(f"/api/v1/gates/{gate}/commands", json={"kind": "open", "reason": "delivery, resident called"},
                   headers=guard)
        assert r.status_code == 202
        _, payload, retained = gate_sim.next()
        cmd = Command.model_validate_json(payload)
        assert not retained and cmd.kind == "open" and cmd.operator == "guard"
        assert cmd.reason == "delivery, resident called" and str(cmd.command_id) == r.json()["command_id"]
        # the default command_ttl_s is 30 s; the API answer shows the same expiry the gate gets
        assert (cmd.expires_at - cmd.issued_at).total_seconds() == 30
        assert datetime.fromisoformat(r.json()["expires_at"]) == cmd.expires_at
        assert c.post(f"/api/v1/gates/{gate}/commands", json={"kind": "reload"}, headers=guard).status_code == 403
        assert c.post(f"/api/v1/gates/{gate}/commands", json={"kind": "reload"}, headers=pm).status_code == 202
        assert Command.model_validate_json(gate_sim.next()[1]).operator == "pm"
        history = {h["command_id"]: h for h in c.get(f"/api/v1/gates/{gate}/commands", headers=pm).json()}
        assert datetime.fromisoformat(history[str(cmd.command_id)]["expires_at"]) == cmd.expires_at  # stored
    finally:
        gate_sim.close()
    with api.sessions() as s:
        assert len(s.scalars(select(GateCommand).where(GateCommand.gate_id == gate)).all()) == 2
        assert s.scalar(select(AuditLog.detail).where(AuditLog.username == "guard", AuditLog.action == "command"))[
            "reason"] == "delivery, resident called"


def test_burst_of_changes_makes_one_version(api, uid, photos, setup):
    """Republishing is coalesced: ten edits within the quiet period give one new version."""
    from sqlalchemy import func

    from server.db.models import GalleryVersion
    from server.gallery.publish import Republisher

    site, gate, admin = setup
    c = api.client
    assert c.post("/api/v1/residents", json={"id": f"r{uid}", "site_id": site, "name": "R"},
                  headers=admin).status_code == 201
    assert c.post(f"/api/v1/residents/r{uid}/photos", files=[("file", ("a.jpg", photos["alex"]))],
                  headers=admin).status_code == 201
    assert api.state.republisher.flush(30)
    with api.sessions() as s:
        before = s.scalar(select(func.count()).select_from(GalleryVersion).where(GalleryVersion.site_id == site))
    slow = Republisher(api.state.gallery, debounce_s=5.0)  # longer than the edits take
    try:
        with api.sessions() as s:
            from server.db.models import Resident

            r = s.get(Resident, f"r{uid}")
            for i in range(10):
                r.name = f"R{i}"
                s.commit()
                slow.mark(site)
        assert slow.flush(30)
    finally:
        slow.close()
    with api.sessions() as s:
        after = s.scalar(select(func.count()).select_from(GalleryVersion).where(GalleryVersion.site_id == site))
    assert after == before + 1
