"""A gate that goes silent without a Last Will reaching the server is marked offline.

Real Mosquitto, real SQLite and PostgreSQL, the real ingest worker. The worker's clock is a test
clock moved by hand, so "30 s of silence" takes no 30 s; one test lets the worker's own thread do
it in real time with the smallest timeout the settings allow.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from ingest_kit import seed, wait_for
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from menwei.errors import MenweiError
from menwei.mqtt import BrokerUrl
from server.config import load_settings
from server.db.models import Alert, DeviceHealth, Gate
from server.ingest.worker import IngestWorker


class Clock:
    """What the worker believes the time is."""

    def __init__(self):
        self.now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def settings(db_url, broker_url, uid, site, **ingest):
    return load_settings(env={}, db_url=db_url, mqtt_url=broker_url,
                         ingest={"client_id": f"ingest-{uid}", "sites": [site], "shared_group": f"g{uid}",
                                 "rematch": False, "session_expiry_s": 60, **ingest})


def gate_offline_alerts(sessions, gate):
    with sessions() as s:
        return list(s.scalars(select(Alert).where(Alert.gate_id == gate, Alert.kind == "gate_offline")
                              .order_by(Alert.id)))


def gate_row(sessions, gate) -> Gate:
    with sessions() as s:
        g = s.get(Gate, gate)
        s.expunge(g)
        return g


def box_client(broker_url, client_id, will_topic=None):
    b = BrokerUrl.parse(broker_url)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if will_topic:
        c.will_set(will_topic, b'{"state": "offline"}', qos=1, retain=True)
    c.connect(b.host, b.port, keepalive=5)
    c.loop_start()
    return c


def clear_retained(broker_url, uid, topic):
    c = box_client(broker_url, f"clean-{uid}")
    c.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def test_silent_gate_goes_offline_once_and_comes_back(db_url, sessions, broker_url, uid):
    site, gate, never = f"s{uid}", f"g{uid}", f"n{uid}"
    seed(sessions, site, {gate: "in", never: "out"})
    clock = Clock()
    worker = IngestWorker(settings(db_url, broker_url, uid, site, gate_offline_after_s=30), sessions, clock=clock)
    worker.silence.period_s = 3600  # the test runs the check itself, at the times it chooses
    worker.start()
    status_topic = f"menwei/v1/{site}/{gate}/status"
    tele_topic = f"menwei/v1/{site}/{gate}/telemetry"
    box = None
    try:
        box = box_client(broker_url, f"box-{uid}", will_topic=status_topic)
        box.publish(status_topic, json.dumps({"state": "online", "config_version": 3}), qos=1,
                    retain=True).wait_for_publish(5)
        box.publish(tele_topic, json.dumps({"fps": 10.0, "outbox_depth": 0}), qos=1).wait_for_publish(5)
        assert wait_for(lambda: gate_row(sessions, gate).telemetry_at == T0)
        assert gate_row(sessions, gate).state == "online"

        clock.at(29.9)  # not yet: 30 s is the limit
        assert worker.silence.check() == []
        clock.at(30.5)
        assert worker.silence.check() == [gate]
        assert worker.silence.check() == []  # already offline: no second alert
        g = gate_row(sessions, gate)
        assert g.state == "offline" and g.config_version == 3
        assert gate_row(sessions, never).state == "unknown"  # never online: nothing to time out
        alerts = gate_offline_alerts(sessions, gate)
        assert len(alerts) == 1
        assert alerts[0].site_id == site and alerts[0].created_at == T0 + timedelta(seconds=30.5)
        assert alerts[0].detail["status"]["reason"] == "silent"
        assert alerts[0].detail["status"]["last_seen_at"].startswith("2026-03-01T08:00:00")

        # the gate was only unreachable: its next telemetry brings it back without a status
        clock.at(40)
        box.publish(tele_topic, json.dumps({"fps": 9.0, "outbox_depth": 0}), qos=1).wait_for_publish(5)
        assert wait_for(lambda: gate_row(sessions, gate).state == "online")
        clock.at(69)
        assert worker.silence.check() == []  # last seen at 40
        clock.at(71)
        assert worker.silence.check() == [gate]  # a new silence is news again
        assert len(gate_offline_alerts(sessions, gate)) == 2

        # now its Will arrives (the box loses power): already offline, so no third alert
        box.loop_stop()
        box.socket().close()
        box = None
        assert wait_for(lambda: gate_row(sessions, gate).last_status == {"state": "offline"}, timeout=20)
        assert len(gate_offline_alerts(sessions, gate)) == 2
        # and a late telemetry from before the crash does not bring a gate its Will took back
        late = box_client(broker_url, f"late-{uid}")
        clock.at(80)
        late.publish(tele_topic, json.dumps({"fps": 1.0, "outbox_depth": 0}), qos=1).wait_for_publish(5)
        late.disconnect()
        late.loop_stop()
        assert wait_for(lambda: gate_row(sessions, gate).telemetry_at == T0 + timedelta(seconds=80))
        assert gate_row(sessions, gate).state == "offline"

        with sessions() as s:
            history = [(h.state, (h.data or {}).get("reason")) for h in s.scalars(
                select(DeviceHealth).where(DeviceHealth.gate_id == gate, DeviceHealth.kind == "status")
                .order_by(DeviceHealth.id))]
        assert history == [("online", None), ("offline", "silent"), ("online", "telemetry"),
                           ("offline", "silent")]
    finally:
        if box is not None:
            box.loop_stop()
            box.disconnect()
        worker.stop()
        clear_retained(broker_url, uid, status_topic)


def test_the_worker_checks_by_itself(db_url, sessions, broker_url, uid):
    """No hand on the clock: the worker's thread marks a gate silent for the 5 s minimum."""
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    worker = IngestWorker(settings(db_url, broker_url, uid, site, gate_offline_after_s=5), sessions).start()
    status_topic = f"menwei/v1/{site}/{gate}/status"
    box = box_client(broker_url, f"box-{uid}", will_topic=status_topic)
    try:
        box.publish(status_topic, json.dumps({"state": "online"}), qos=1, retain=True).wait_for_publish(5)
        assert wait_for(lambda: gate_row(sessions, gate).state == "online")
        online_at = gate_row(sessions, gate).last_seen_at
        assert wait_for(lambda: gate_row(sessions, gate).state == "offline", timeout=15)
        silent_for = (gate_row(sessions, gate).status_at - online_at).total_seconds()
        assert 5 <= silent_for < 5 + 1.25 + 1  # the timeout, plus at most one check period (and slack)
        assert len(gate_offline_alerts(sessions, gate)) == 1
    finally:
        box.loop_stop()
        box.disconnect()
        worker.stop()
        clear_retained(broker_url, uid, status_topic)


def test_the_setting_is_checked():
    with pytest.raises(MenweiError, match="gate_offline_after_s"):
        load_settings(env={}, ingest={"gate_offline_after_s": 1})
    assert load_settings(env={}).ingest.gate_offline_after_s == 30
    assert load_settings(env={}, ingest={"gate_offline_after_s": None}).ingest.gate_offline_after_s is None


def test_a_worker_that_was_down_gives_every_gate_the_whole_timeout(db_url, sessions, broker_url, uid):
    """Stored online, last seen an hour ago (the server was off, not the gate): no alert at start,
    only if the gate stays silent for the timeout counted from when the worker could hear it."""
    from sqlalchemy import update

    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    with sessions.begin() as s:
        s.execute(update(Gate).where(Gate.id == gate).values(state="online", last_seen_at=T0 - timedelta(hours=1)))
    clock = Clock()
    worker = IngestWorker(settings(db_url, broker_url, uid, site, gate_offline_after_s=30), sessions, clock=clock)
    worker.silence.period_s = 3600
    worker.start()
    try:
        clock.at(10)
        assert worker.silence.check() == []
        assert gate_row(sessions, gate).state == "online" and gate_offline_alerts(sessions, gate) == []
        clock.at(30)
        assert worker.silence.check() == [gate]
        assert len(gate_offline_alerts(sessions, gate)) == 1
    finally:
        worker.stop()
