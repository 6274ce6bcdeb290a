"""Helpers for the ingest/reconcile tests: registry seeding, contract-shaped events, a gate simulator.

Events are written as plain dicts straight from the wire contract (DESIGN.md), not built with
menwei.wire, so a drift between the contract and the model would show up here.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from menwei.wire import uuid7
from server.db.models import Building, Gate, Household, Resident, Site, Unit


def seed(sessions, site: str, gates: dict[str, str], residents: list[dict] | None = None,
         household: tuple[str, str, str] | None = None) -> dict:
    """A site with gates {gate_id: direction} and residents (dicts of Resident fields)."""
    ids: dict = {}
    with sessions.begin() as s:
        if s.get(Site, site) is None:
            s.add(Site(id=site, name=f"Compound {site}"))
            s.flush()
        for gate_id, direction in gates.items():
            s.add(Gate(id=gate_id, site_id=site, direction=direction))
        hh = None
        if household:
            b = Building(site_id=site, name=household[0])
            u = Unit(building=b, name=household[1])
            hh = Household(unit=u, name=household[2])
            s.add_all([b, u, hh])
            s.flush()
            ids.update(building_id=b.id, unit_id=u.id, household_id=hh.id)
        for r in residents or []:
            s.add(Resident(site_id=site, household_id=hh.id if hh else None, **r))
    return ids


def event(site: str, gate: str, seq: int, *, resident_id: str | None = "r-1", direction: str = "in",
          decision: str = "granted", at: datetime | None = None, celsius: float | None = 36.5,
          temp_status: str = "normal", face: bytes | None = None, override: dict | None = None) -> dict:
    at = at or datetime.now(UTC)
    ev = {
        "schema": "menwei.entry/1",
        "event_id": str(uuid7(int(at.timestamp() * 1000))),
        "site_id": site,
        "gate_id": gate,
        "seq": seq,
        "captured_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "direction": direction,
        "decision": decision,
        "reasons": ["face_match"] if resident_id else ["no_match"],
        "person": {"resident_id": resident_id, "score": 0.71 if resident_id else None,
                   "gallery_version": 3, "pack": "dlib-resnet"},
        "temperature": {"celsius": celsius, "status": temp_status, "method": "canthus"},
        "track": {"frames": 9, "duration_ms": 420},
    }
    if face is not None:
        ev["face_jpeg"] = base64.b64encode(face).decode()
    if override is not None:
        ev["override"] = override
    return ev


def payload(ev: dict) -> bytes:
    return json.dumps(ev).encode()


def entry_topic(site: str, gate: str) -> str:
    return f"menwei/v1/{site}/{gate}/evt/entry"


class GateSim:
    """Publishes like a gate (QoS 1) and records the acked_seq it receives on its ctl/ack."""

    def __init__(self, broker_url: str, site: str, gate: str):
        from menwei.mqtt import BrokerUrl

        b = BrokerUrl.parse(broker_url)
        self.site, self.gate = site, gate
        self.acked = 0
        self.acks: list[int] = []
        self._cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gate-{site}-{gate}-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv311 if b.version == "3.1.1" else mqtt.MQTTv5)
        self.client.max_inflight_messages_set(200)
        self.client.on_message = self._on_ack
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(b.host, b.port)
        self.client.loop_start()
        self.client.subscribe(f"menwei/v1/{site}/{gate}/ctl/ack", qos=1)
        assert subscribed.wait(5), "ack subscription not confirmed"

    def _on_ack(self, _c, _u, msg) -> None:
        value = json.loads(msg.payload)["acked_seq"]
        with self._cond:
            self.acks.append(value)
            self.acked = max(self.acked, value)
            self._cond.notify_all()

    def publish(self, data: bytes, topic: str | None = None, wait: bool = True) -> None:
        info = self.client.publish(topic or entry_topic(self.site, self.gate), data, qos=1)
        if wait:
            info.wait_for_publish(10)

    def wait_acked(self, seq: int, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.acked < seq and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
        return self.acked

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def ago(**kw) -> datetime:
    return datetime.now(UTC) - timedelta(**kw)


def create_pg_database(admin_url: str) -> str:
    name = f"menwei_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_pg_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
