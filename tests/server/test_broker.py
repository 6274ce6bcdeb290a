"""Broker accounts, client ids and worker sessions against a private Mosquitto (issue 8 items 1, 2, 8, 11).

Each test starts its own broker with the files ``broker-files`` writes, so nothing is left on the
shared one and accounts/ACLs are the real thing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from broker_kit import Client, PrivateMosquitto, SubackProxy, free_port
from ingest_kit import GateSim, event, payload, seed, wait_for
from sqlalchemy import select

from menwei.mqtt import MqttError, end_session
from server.broker_auth import BrokerFilesError, GateAccount, hash_password, verify_password, write_files
from server.config import load_settings
from server.db.models import Entry
from server.db.session import make_engine, session_factory, upgrade
from server.ingest.worker import IngestWorker

MENWEI = str(Path(sys.executable).with_name("menwei"))
SERVER_PW, GATE_PW, OTHER_PW = "server-password-123", "gate-password-123", "other-gate-pw-123"


def _broker(tmp_path: Path, gates: list[GateAccount], server_user: str = "menwei-server",
            acl_extra: str = "") -> tuple[PrivateMosquitto, int, int]:
    gport, sport = free_port(), free_port()
    out = tmp_path / "broker"
    write_files(out, gates, server_user, hash_password(SERVER_PW), gate_listener=f"127.0.0.1:{gport}",
                server_listener=f"127.0.0.1:{sport}")
    if acl_extra:
        (out / "acl").write_text(acl_extra)
    conf = (out / "menwei-listeners.conf").read_text()
    return PrivateMosquitto(tmp_path, conf, [gport, sport]), gport, sport


def _sessions(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    return url, engine, session_factory(engine)


def _settings(db_url: str, mqtt_url: str, client_id: str, site: str, **ingest):
    return load_settings(env={}, db_url=db_url, mqtt_url=mqtt_url,
                         ingest={"client_id": client_id, "sites": [site], "shared_group": "gtest",
                                 "rematch": False, "session_expiry_s": 600, **ingest})


def test_a_gate_named_like_the_server_cannot_act_as_the_server(tmp_path, uid):
    """Item 1: gate id = the server's account name. Its account is gate.<id>, the password file has
    one line for the server, the gate's password does not open the server account, and the gate
    cannot read another compound's gallery or command another gate."""
    site_a, site_b = f"a{uid}", f"b{uid}"
    gates = [GateAccount(site_a, "menwei-server", hash_password(GATE_PW)),
             GateAccount(site_b, f"gb{uid}", hash_password(OTHER_PW))]
    broker, gport, sport = _broker(tmp_path, gates)
    clients: list[Client] = []
    try:
        lines = (tmp_path / "broker" / "passwd").read_text().splitlines()
        users = [line.split(":", 1)[0] for line in lines]
        assert sorted(users) == sorted(["menwei-server", "gate.menwei-server", f"gate.gb{uid}"])
        server_hash = dict(line.split(":", 1) for line in lines)["menwei-server"]
        assert verify_password(SERVER_PW, server_hash) and not verify_password(GATE_PW, server_hash)

        as_server_with_gate_pw = Client(sport, "menwei-server", GATE_PW)
        clients.append(as_server_with_gate_pw)
        assert not as_server_with_gate_pw.accepted  # the takeover of the issue: refused now

        server = Client(sport, "menwei-server", SERVER_PW)
        gate_b = Client(gport, f"gate.gb{uid}", OTHER_PW)
        gate = Client(gport, "gate.menwei-server", GATE_PW)
        clients += [server, gate_b, gate]
        assert server.accepted and gate_b.accepted and gate.accepted
        gallery_b = f"menwei/v1/{site_b}/gb{uid}/ctl/gallery"
        server.publish(gallery_b, b'{"version": 1}', retain=True)
        gate_b.subscribe(f"menwei/v1/{site_b}/gb{uid}/ctl/#")
        gate.subscribe("menwei/v1/#")  # everything it may read
        gate.publish(f"menwei/v1/{site_b}/gb{uid}/ctl/cmd", b'{"kind": "open"}')  # not its topic
        gate.publish(f"menwei/v1/{site_a}/menwei-server/status", b'{"state": "online"}')  # its own
        time.sleep(0.5)
        assert gate.messages == []  # no gallery of B, nothing of anyone else
        assert [t for t, _ in gate_b.messages] == [gallery_b]  # the server's retained one, no forged open
        server.publish(gallery_b, b"", retain=True)
    finally:
        for c in clients:
            c.close()
        broker.stop()


def test_broker_files_refuses_a_server_user_in_the_gate_namespace(tmp_path):
    db = f"sqlite:///{tmp_path / 'server.db'}"
    upgrade(db)
    out = tmp_path / "broker"
    r = subprocess.run([MENWEI, "server", "broker-files", "--db", db, "--data-dir", str(tmp_path), "--out", str(out),
                        "--server-user", "gate.g1"], input="pw-123456\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("menwei: error:") and "gate." in r.stderr
    assert not out.exists()  # nothing written
    # the library refuses any user twice, and writes nothing either
    with pytest.raises(BrokerFilesError, match="twice"):
        write_files(out, [GateAccount("s", "g1", "h"), GateAccount("t", "g1", "h")])
    assert not out.exists()


def test_a_gate_presenting_the_workers_client_id_does_not_take_its_session(tmp_path, uid):
    """Item 2: on the gates' listener the client id is the user name, so a gate connecting with the
    worker's id and clean_start=false gets a session of its own; events queued while the worker
    was down still reach the worker."""
    site, gate_id = f"s{uid}", f"g{uid}"
    broker, gport, sport = _broker(tmp_path, [GateAccount(site, gate_id, hash_password(GATE_PW))])
    db_url, engine, sessions = _sessions(tmp_path)
    worker_id = f"menwei-ingest-{uid}"
    impostor = None
    try:
        seed(sessions, site, {gate_id: "in"})
        settings = _settings(db_url, f"mqtt://menwei-server:{SERVER_PW}@127.0.0.1:{sport}", worker_id, site)
        IngestWorker(settings, sessions).start().stop()  # leaves its persistent session behind
        impostor = Client(gport, f"gate.{gate_id}", GATE_PW, client_id=worker_id, clean_start=False,
                          session_expiry_s=600)
        assert impostor.accepted
        for seq in range(1, 6):
            impostor.publish(f"menwei/v1/{site}/{gate_id}/evt/entry", payload(event(site, gate_id, seq)))
        time.sleep(0.5)
        assert impostor.messages == []  # the worker's queue was not handed to the gate
        worker = IngestWorker(settings, sessions).start()
        try:
            def stored():
                with sessions() as s:
                    return len(s.scalars(select(Entry.id).where(Entry.gate_id == gate_id)).all())

            assert wait_for(lambda: stored() == 5, timeout=15)
        finally:
            worker.stop()
        end_session(f"mqtt://menwei-server:{SERVER_PW}@127.0.0.1:{sport}", worker_id)
    finally:
        if impostor is not None:
            impostor.close()
        engine.dispose()
        broker.stop()


def test_worker_is_ready_only_when_the_broker_grants_its_subscriptions(tmp_path, uid):
    """Item 8: while the broker's SUBACK is held back the worker is not ready (it used to set the
    flag when SUBSCRIBE was sent, so events published meanwhile were never routed to it); a
    refused SUBACK makes start() fail with the reason instead of reporting ready."""
    import threading

    port = free_port()
    broker = PrivateMosquitto(tmp_path, f"listener {port} 127.0.0.1\nallow_anonymous true\n", [port])
    db_url, engine, sessions = _sessions(tmp_path)
    site = f"s{uid}"
    proxies = []
    try:
        held = SubackProxy(port, "hold")
        proxies.append(held)
        worker = IngestWorker(_settings(db_url, f"mqtt://127.0.0.1:{held.port}", f"w-{uid}", site), sessions)
        started = threading.Event()
        t = threading.Thread(target=lambda: (worker.start(), started.set()), daemon=True)
        t.start()
        assert wait_for(lambda: held.subacks >= 1, timeout=10)  # SUBSCRIBE sent, SUBACK in the proxy
        time.sleep(0.5)
        assert not worker.subscribed.is_set() and not started.is_set()
        held.release.set()
        assert started.wait(10) and worker.subscribed.is_set()
        worker.stop()

        refused = SubackProxy(port, "refuse")
        proxies.append(refused)
        worker = IngestWorker(_settings(db_url, f"mqtt://127.0.0.1:{refused.port}", f"w-{uid}", site), sessions)
        with pytest.raises(MqttError, match="did not grant"):
            worker.start()
        assert not worker.subscribed.is_set() and "refused" in (worker.last_error or "")
        end_session(f"mqtt://127.0.0.1:{port}", f"w-{uid}")
    finally:
        for p in proxies:
            p.close()
        engine.dispose()
        broker.stop()


def test_retire_ends_a_dead_workers_share_of_the_stream(tmp_path, uid):
    """Item 11: a stopped worker of a shared-subscription group keeps receiving its share until its
    session ends; `menwei server ingest --retire` ends it, after which everything the gate resends
    reaches the live worker."""
    port = free_port()
    broker = PrivateMosquitto(tmp_path, f"listener {port} 127.0.0.1\nallow_anonymous true\n", [port])
    db_url, engine, sessions = _sessions(tmp_path)
    url = f"mqtt://127.0.0.1:{port}"
    site, gate = f"s{uid}", f"g{uid}"
    sim = None
    try:
        seed(sessions, site, {gate: "in"})
        live = IngestWorker(_settings(db_url, url, f"live-{uid}", site), sessions).start()
        IngestWorker(_settings(db_url, url, f"dead-{uid}", site), sessions).start().stop()
        sim = GateSim(url, site, gate)
        try:
            events = [event(site, gate, seq) for seq in range(1, 11)]
            for ev in events:
                sim.publish(payload(ev))
            time.sleep(1.5)
            assert sim.acked < 10  # part of the stream went to the dead member's queue
            r = subprocess.run([MENWEI, "server", "ingest", "--db", db_url, "--data-dir", str(tmp_path), "--mqtt", url,
                                "--client-id", f"dead-{uid}", "--retire"], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 and "ended" in r.stdout, r.stderr
            assert end_session(url, f"dead-{uid}") is False  # gone for good
            for ev in events[sim.acked:]:  # the gate's outbox resends what is not acked
                sim.publish(payload(ev))
            assert sim.wait_acked(10, timeout=15) == 10
        finally:
            live.stop()
    finally:
        if sim is not None:
            sim.close()
        engine.dispose()
        broker.stop()


def test_default_worker_client_id_is_random_stable_and_private(tmp_path):
    """Item 2: no well-known default id ('menwei-ingest-1' was one): 64 random bits made once per
    data dir, kept 0600, the same on every restart."""
    import os
    import re

    from server.ingest.identity import resolve_client_id

    a = load_settings(env={}, data_dir=str(tmp_path / "a"))
    b = load_settings(env={}, data_dir=str(tmp_path / "b"))
    assert a.ingest.client_id is None
    first = resolve_client_id(a)
    assert re.fullmatch(r"menwei-ingest-[0-9a-f]{16}", first)
    assert resolve_client_id(a) == first and resolve_client_id(b) != first
    assert os.stat(tmp_path / "a" / "ingest-client-id").st_mode & 0o777 == 0o600
    explicit = load_settings(env={}, data_dir=str(tmp_path / "a"), ingest={"client_id": "w-7"})
    assert resolve_client_id(explicit) == "w-7"
