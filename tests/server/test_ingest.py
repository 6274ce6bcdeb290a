"""Ingestion through the real Mosquitto into real SQLite and PostgreSQL.

Exactly the valid unique events are stored, each is acknowledged on ctl/ack only after its commit
and never past a gap; everything else is quarantined and counted, and the worker keeps going.
"""

from __future__ import annotations

import json
import os
import random
import select as io_select
import signal
import socket
import subprocess
import sys
from pathlib import Path

from ingest_kit import GateSim, entry_topic, event, payload, seed, wait_for
from sqlalchemy import func, select

from menwei.mqtt import BrokerUrl
from server.config import load_settings
from server.db.models import Entry, GateSeq, QuarantinedMessage
from server.ingest.worker import IngestWorker

REPO = Path(__file__).resolve().parents[2]
# the broker is shared: test sessions outlive a restart of the worker, not the test run
SESSION_S = 120


def make_settings(db_url: str, broker_url: str, uid: str, sites: list[str], **ingest):
    return load_settings(env={}, db_url=db_url, mqtt_url=broker_url,
                         ingest={"client_id": f"ingest-{uid}", "sites": sites, "shared_group": f"g{uid}",
                                 "rematch": False, "session_expiry_s": SESSION_S, **ingest})


def stored_ids(sessions, gate: str) -> list[str]:
    with sessions() as s:
        return [str(e) for e in s.scalars(select(Entry.event_id).where(Entry.gate_id == gate))]


def quarantine_reasons(sessions, site: str) -> dict[str, int]:
    with sessions() as s:
        rows = s.execute(select(QuarantinedMessage.reason, func.count()).where(QuarantinedMessage.site_id == site)
                         .group_by(QuarantinedMessage.reason)).all()
    return dict(rows)


def test_valid_unique_events_stored_and_acked_garbage_quarantined(db_url, sessions, broker_url, uid):
    site, other = f"s{uid}", f"o{uid}"
    gate, other_gate = f"g{uid}", f"h{uid}"
    seed(sessions, site, {gate: "in"})
    seed(sessions, other, {other_gate: "out"})
    settings = make_settings(db_url, broker_url, uid, [site, other])
    worker = IngestWorker(settings, sessions).start()
    sim = GateSim(broker_url, site, gate)
    try:
        assert worker.subscribed.wait(5)
        valid = [event(site, gate, seq) for seq in range(1, 31)]
        order = list(range(30))
        random.Random(7).shuffle(order)  # out of order...
        publishes = [payload(valid[i]) for i in order]
        publishes += [payload(valid[i]) for i in (0, 3, 3, 17, 29)]  # ...and duplicates
        for p in publishes:
            sim.publish(p, wait=False)
        assert sim.wait_acked(30) == 30
        # hostile or broken input on the same gate's topic
        sim.publish(b"{not json")
        sim.publish(b"\xff\xfe\x00garbage")
        wrong_types = event(site, gate, 31)
        wrong_types["seq"] = "thirty-one"
        sim.publish(payload(wrong_types))
        sim.publish(b'{"schema": "menwei.entry/1", "padding": "' + b"x" * (10 * 1024 * 1024) + b'"}')
        other_event = event(other, other_gate, 1)
        sim.publish(payload(other_event))  # another gate's event on this gate's topic
        sim.publish(payload(event(site, f"x{uid}", 1)), topic=entry_topic(site, f"x{uid}"))  # unknown gate
        sim.publish(payload(event(site, other_gate, 2)), topic=entry_topic(site, other_gate))  # gate of another site
        # a schema-invalid event that plainly is this gate's seq 31: quarantined, settles the seq
        bad_decision = event(site, gate, 31)
        bad_decision["decision"] = "maybe"
        sim.publish(payload(bad_decision))
        last = event(site, gate, 32)
        sim.publish(payload(last))
        assert sim.wait_acked(32) == 32
        assert wait_for(lambda: worker.counters().get("rejected", 0) >= 8)
    finally:
        sim.close()
        worker.stop()

    ids = stored_ids(sessions, gate)
    assert sorted(ids) == sorted([v["event_id"] for v in valid] + [last["event_id"]])
    assert stored_ids(sessions, other_gate) == []
    reasons = quarantine_reasons(sessions, site)
    assert reasons == {"malformed": 2, "schema": 2, "oversized": 1, "topic_mismatch": 1, "unknown_gate": 1,
                       "wrong_site": 1}
    c = worker.counters()
    assert c["stored"] == 31 and c["duplicates"] == 5 and c["rejected"] == 8
    assert c["rejected_oversized"] == 1 and c["rejected_malformed"] == 2
    with sessions() as s:
        q = s.scalars(select(QuarantinedMessage).where(QuarantinedMessage.reason == "oversized",
                                                       QuarantinedMessage.site_id == site)).one()
        assert q.payload_size > 10 * 1024 * 1024 and len(q.payload) == settings.ingest.quarantine_payload_bytes
        assert s.get(GateSeq, gate).acked_seq == 32
    # acks only ever grow and never claimed a seq before it was there
    assert sim.acks == sorted(sim.acks)


def test_ack_never_passes_a_gap(db_url, sessions, broker_url, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "both"})
    worker = IngestWorker(make_settings(db_url, broker_url, uid, [site]), sessions).start()
    sim = GateSim(broker_url, site, gate)
    try:
        assert worker.subscribed.wait(5)
        evs = {seq: event(site, gate, seq) for seq in range(1, 7)}
        for seq in (1, 2, 4, 5, 6):
            sim.publish(payload(evs[seq]))
        assert wait_for(lambda: len(stored_ids(sessions, gate)) == 5)
        assert wait_for(lambda: sim.acks and max(sim.acks) == 2, timeout=5)
        assert sim.acked == 2  # 4..6 are stored but 3 is missing: the gate must keep them
        n_acks = len(sim.acks)
        sim.publish(payload(evs[4]))  # a duplicate re-acks, still only up to the gap
        assert wait_for(lambda: len(sim.acks) > n_acks)
        assert sim.acked == 2
        sim.publish(payload(evs[3]))
        assert sim.wait_acked(6) == 6
    finally:
        sim.close()
        worker.stop()
    assert json.loads(json.dumps(worker.counters()))["stored"] == 6


def _start_worker_process(db_url: str, broker_url: str, uid: str, site: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.ingest", "--db", db_url, "--mqtt", broker_url, "--client-id", f"ingest-{uid}",
         "--site", site, "--shared-group", f"g{uid}", "--no-rematch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "MENWEI_CONFIG": "", "MENWEI_INGEST__SESSION_EXPIRY_S": str(SESSION_S)})
    ready, _, _ = io_select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"worker did not start: {line!r} {proc.stderr.read()[:2000]}")
    return proc


def test_kill_9_mid_stream_loses_nothing(db_url, sessions, broker_url, uid):
    """kill -9 the worker while events stream in; the broker's persistent session plus the gate's
    outbox (re-sending everything not yet acked) bring every event in, exactly once."""
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    total = 800
    events = [event(site, gate, seq) for seq in range(1, total + 1)]
    sim = GateSim(broker_url, site, gate)
    proc = _start_worker_process(db_url, broker_url, uid, site)
    try:
        for i, ev in enumerate(events):
            sim.publish(payload(ev), wait=False)
            if i == 300:
                assert sim.wait_acked(100, timeout=20) >= 100
                proc.send_signal(signal.SIGKILL)  # mid-stream: acked ~100-300, the rest in flight
                proc.wait(10)
        killed_at = sim.acked
        assert killed_at < total
        proc = _start_worker_process(db_url, broker_url, uid, site)
        # the gate's outbox re-sends every event not covered by an ack (duplicates included)
        for ev in events[sim.acked:]:
            sim.publish(payload(ev), wait=False)
        assert sim.wait_acked(total, timeout=60) == total
    finally:
        sim.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert sorted(stored_ids(sessions, gate)) == sorted(e["event_id"] for e in events)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Entry).where(Entry.gate_id == gate)) == total


def test_embedded_broker_falls_back_to_mqtt_311(tmp_path, uid):
    """The zero-setup default broker (amqtt) speaks 3.1.1 only: the worker falls back to a 3.1.1
    persistent session with a plain subscription and still acks after commit."""
    from server.db.session import make_engine, session_factory, upgrade

    amqtt = Path(sys.executable).with_name("amqtt")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "amqtt.yaml"
    conf.write_text(f"listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\nplugins:\n"
                    "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n")
    broker = subprocess.Popen([str(amqtt), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: _port_open(port), timeout=15), "amqtt did not start"
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        upgrade(url)
        sessions = session_factory(make_engine(url))
        site, gate = f"s{uid}", f"g{uid}"
        seed(sessions, site, {gate: "in"})
        broker_url = f"mqtt://127.0.0.1:{port}"
        worker = IngestWorker(make_settings(url, broker_url, uid, [site]), sessions).start()
        sim = GateSim(broker_url + "?version=3.1.1", site, gate)
        try:
            assert worker.subscribed.wait(5)
            for seq in range(1, 21):
                sim.publish(payload(event(site, gate, seq)), wait=False)
            assert sim.wait_acked(20) == 20
        finally:
            sim.close()
            worker.stop()
        assert len(stored_ids(sessions, gate)) == 20
    finally:
        broker.terminate()
        broker.wait(10)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def test_database_outage_keeps_batches_until_it_returns(pg_admin_url, broker_url, uid):
    """PostgreSQL refuses connections for a while: nothing is acked or quarantined meanwhile, and
    everything lands once it is back."""
    import psycopg
    from ingest_kit import create_pg_database, drop_pg_database

    from server.db.session import make_engine, session_factory, upgrade

    url = create_pg_database(pg_admin_url)
    name = url.rsplit("/", 1)[1]
    engine = make_engine(url)
    try:
        upgrade(url)
        sessions = session_factory(engine)
        site, gate = f"s{uid}", f"g{uid}"
        seed(sessions, site, {gate: "in"})
        settings = make_settings(url, broker_url, uid, [site], retry_backoff_s=0.2)
        worker = IngestWorker(settings, sessions).start()
        sim = GateSim(broker_url, site, gate)
        try:
            assert worker.subscribed.wait(5)
            for seq in range(1, 11):
                sim.publish(payload(event(site, gate, seq)))
            assert sim.wait_acked(10) == 10
            with psycopg.connect(pg_admin_url, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            for seq in range(11, 21):
                sim.publish(payload(event(site, gate, seq)))
            assert wait_for(lambda: worker.counters().get("db_errors", 0) >= 2, timeout=20)
            assert sim.acked == 10  # nothing acknowledged while nothing could be committed
            with psycopg.connect(pg_admin_url, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            assert sim.wait_acked(20, timeout=30) == 20
        finally:
            sim.close()
            worker.stop()
        assert len(stored_ids(sessions, gate)) == 20
        assert worker.counters().get("rejected", 0) == 0
    finally:
        engine.dispose()
        drop_pg_database(pg_admin_url, url)


def test_gate_last_will_raises_gate_offline(db_url, sessions, broker_url, uid):
    """A gate whose connection dies: Mosquitto publishes its Last Will on status, the server marks the
    gate offline and raises one gate_offline alert; the gate's health fields come from its status."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from menwei.mqtt import BrokerUrl
    from server.db.models import Alert, Gate

    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    worker = IngestWorker(make_settings(db_url, broker_url, uid, [site]), sessions).start()
    b = BrokerUrl.parse(broker_url)
    status_topic = f"menwei/v1/{site}/{gate}/status"
    box = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"box-{uid}", protocol=mqtt.MQTTv5)
    box.will_set(status_topic, b'{"state": "offline"}', qos=1, retain=True)
    try:
        assert worker.subscribed.wait(5)
        box.connect(b.host, b.port, keepalive=5)
        box.loop_start()
        refused = "config v3 refused: policy.fever: Input should be 'hard' or 'soft'"
        box.publish(status_topic, json.dumps({"state": "online", "agent_version": "0.1.0", "gallery_version": 4,
                                              "config_version": 2, "config_error": refused,
                                              "pack": "dlib-resnet"}), qos=1, retain=True).wait_for_publish(5)

        def state():
            with sessions() as s:
                return s.get(Gate, gate).state

        assert wait_for(lambda: state() == "online")
        box.loop_stop()
        box.socket().close()  # the box loses power: no DISCONNECT, so the broker sends the Will
        assert wait_for(lambda: state() == "offline", timeout=20)
        with sessions() as s:
            g = s.get(Gate, gate)
            assert (g.gallery_version, g.agent_version) == (4, "0.1.0")
            # the Will says nothing about the config: what the gate last reported stays
            assert (g.config_version, g.config_error) == (2, refused)
            kinds = [a.kind.value for a in s.scalars(select(Alert).where(Alert.gate_id == gate))]
        assert kinds == ["gate_offline"]
    finally:
        worker.stop()
        # clear the retained status so the shared broker does not keep it forever
        cleaner = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"clean-{uid}")
        cleaner.connect(b.host, b.port)
        cleaner.loop_start()
        cleaner.publish(status_topic, b"", qos=1, retain=True).wait_for_publish(5)
        cleaner.disconnect()
        cleaner.loop_stop()


def test_a_near_full_outbox_raises_one_alert_per_episode(db_url, sessions, broker_url, uid):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from server.db.models import Alert, Gate

    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    worker = IngestWorker(make_settings(db_url, broker_url, uid, [site]), sessions).start()
    b = BrokerUrl.parse(broker_url)
    box = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"box-{uid}", protocol=mqtt.MQTTv5)

    def alerts() -> list[Alert]:
        with sessions() as s:
            return list(s.scalars(select(Alert).where(Alert.gate_id == gate).order_by(Alert.id)))

    try:
        assert worker.subscribed.wait(5)
        box.connect(b.host, b.port)
        box.loop_start()
        # depth 95/100 twice, drained, then full again and refusing: two episodes, two alerts
        for depth, near_full, refused in ((95, True, 0), (96, True, 0), (3, False, 0), (100, True, 4)):
            box.publish(f"menwei/v1/{site}/{gate}/telemetry", json.dumps(
                {"fps": 12.0, "outbox_depth": depth, "outbox_near_full": near_full, "outbox_refused": refused}),
                qos=1).wait_for_publish(5)
            assert wait_for(lambda d=depth: _telemetry_depth(sessions, gate) == d)
        got = alerts()
        assert [a.kind.value for a in got] == ["outbox_full", "outbox_full"]
        assert [a.detail["telemetry"]["outbox_depth"] for a in got] == [95, 100]
        assert got[1].detail["telemetry"]["outbox_refused"] == 4
        with sessions() as s:
            assert s.get(Gate, gate).outbox_alarm is True
    finally:
        box.loop_stop()
        box.disconnect()
        worker.stop()


def _telemetry_depth(sessions, gate: str) -> int | None:
    from server.db.models import Gate

    with sessions() as s:
        t = s.get(Gate, gate).last_telemetry
        return t.get("outbox_depth") if t else None


def test_a_message_that_breaks_the_writer_is_quarantined_not_fatal(db_url, sessions, broker_url, uid, monkeypatch):
    """Fault injection: reconciliation blows up on one event. The batch is retried one message at a
    time, that one event is quarantined as store_error, the rest are stored and acked."""
    import server.ingest.inserts as store_mod

    real = store_mod.reconcile_batch

    def flaky(session, events, ctx):
        if any(e.person.resident_id == "boom" for e in events):
            raise TypeError("injected fault")
        return real(session, events, ctx)

    monkeypatch.setattr(store_mod, "reconcile_batch", flaky)
    site, gate = f"s{uid}", f"g{uid}"
    seed(sessions, site, {gate: "in"})
    worker = IngestWorker(make_settings(db_url, broker_url, uid, [site]), sessions).start()
    sim = GateSim(broker_url, site, gate)
    try:
        assert worker.subscribed.wait(5)
        for seq in range(1, 11):
            sim.publish(payload(event(site, gate, seq, resident_id="boom" if seq == 4 else "r-1")), wait=False)
        assert wait_for(lambda: worker.counters().get("received", 0) >= 10)
        sim.publish(payload(event(site, gate, 11)))
        assert wait_for(lambda: worker.counters().get("stored", 0) >= 10)
        assert worker.running
    finally:
        sim.close()
        worker.stop()
    assert len(stored_ids(sessions, gate)) == 10
    assert quarantine_reasons(sessions, site) == {"store_error": 1}
    # seq 4 is neither stored nor settled: the gate keeps it (and an operator finds it in quarantine)
    assert sim.acked == 3


def test_two_workers_share_the_stream(pg_admin_url, broker_url, uid):
    """Two workers in one MQTT 5 shared-subscription group on PostgreSQL: each event stored once,
    acks per gate still contiguous although a gate's events are split between the workers."""
    from ingest_kit import create_pg_database, drop_pg_database

    from server.db.session import make_engine, session_factory, upgrade

    url = create_pg_database(pg_admin_url)
    engine = make_engine(url)
    try:
        upgrade(url)
        sessions = session_factory(engine)
        site, gates = f"s{uid}", [f"g{uid}", f"h{uid}"]
        seed(sessions, site, dict.fromkeys(gates, "in"))
        workers = [IngestWorker(make_settings(url, broker_url, f"{uid}", [site], client_id=f"ingest-{uid}-{i}",
                                              batch_wait_ms=1), sessions).start() for i in range(2)]
        sims = [GateSim(broker_url, site, g) for g in gates]
        try:
            assert all(w.subscribed.wait(5) for w in workers)
            events = {g: [event(site, g, seq) for seq in range(1, 301)] for g in gates}
            for seq in range(300):
                for sim, g in zip(sims, gates, strict=True):
                    sim.publish(payload(events[g][seq]), wait=False)
                    if seq % 10 == 0:  # a duplicate now and then
                        sim.publish(payload(events[g][seq // 2]), wait=False)
            assert [sim.wait_acked(300) for sim in sims] == [300, 300]
        finally:
            for sim in sims:
                sim.close()
            for w in workers:
                w.stop()
        for g in gates:
            assert sorted(stored_ids(sessions, g)) == sorted(e["event_id"] for e in events[g])
        stored = [w.counters().get("stored", 0) for w in workers]
        assert sum(stored) == 600 and min(stored) > 0  # both did part of the work
    finally:
        engine.dispose()
        drop_pg_database(pg_admin_url, url)
