"""Issue 8 item 7: a gallery link signed before the gate's credentials were rotated stops working,
and the gate is announced a new one (real Mosquitto, retained ctl/gallery)."""

from __future__ import annotations

import queue
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from menwei.wire import Channel, GalleryAnnouncement, topic
from server.api.roles import Role


def _retained_announcements(broker_url: str, t: str) -> tuple[mqtt.Client, queue.Queue]:
    parts = urlsplit(broker_url)
    q: queue.Queue = queue.Queue()
    subscribed: queue.Queue = queue.Queue()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rot-sim-{uuid.uuid4().hex[:8]}")
    c.on_message = lambda _c, _u, m: q.put(m.payload)
    c.on_subscribe = lambda *a: subscribed.put(1)
    c.connect(parts.hostname, parts.port or 1883)
    c.loop_start()
    c.subscribe(t, qos=1)
    subscribed.get(timeout=5)
    return c, q


def _get(api, url: str):
    parts = urlsplit(url)
    return api.client.get(f"{parts.path}?{parts.query}")


def test_rotating_credentials_ends_the_old_gallery_link(api, uid, broker_url):
    site, gate = f"s{uid}", f"g{uid}"
    admin = api.add_user("root", Role.ADMIN, [])
    assert api.client.post("/api/v1/sites", json={"id": site, "name": site}, headers=admin).status_code == 201
    assert api.client.post("/api/v1/gates", json={"id": gate, "site_id": site}, headers=admin).status_code == 201
    sim, got = _retained_announcements(broker_url, topic(site, gate, Channel.GALLERY))
    try:
        assert api.client.post(f"/api/v1/sites/{site}/gallery/publish", headers=admin).status_code == 200
        old = GalleryAnnouncement.model_validate_json(got.get(timeout=10))
        assert _get(api, old.url).status_code == 200
        assert api.client.post(f"/api/v1/gates/{gate}/credentials", headers=admin).status_code == 200
        new = GalleryAnnouncement.model_validate_json(got.get(timeout=10))  # re-announced at once
        assert new.version == old.version and new.url != old.url
        r = _get(api, old.url)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        assert _get(api, new.url).status_code == 200
    finally:
        sim.loop_stop()
        sim.disconnect()
        # deleting the gate clears its retained announcement: the shared broker is left clean
        assert api.client.delete(f"/api/v1/gates/{gate}", headers=admin).status_code == 204
