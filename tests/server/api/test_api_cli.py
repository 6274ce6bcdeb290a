"""`menwei server …` as a user runs it: real subprocesses, real SQLite, real Mosquitto."""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, select

from server.db.models import AuditLog, Resident, User

MENWEI = str(Path(sys.executable).with_name("menwei"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def menwei(*args, stdin: str | None = None, timeout: float = 120, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([MENWEI, *args], input=stdin, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_init_reads_password_from_stdin(tmp_path):
    db = f"sqlite:///{tmp_path / 'server.db'}"
    r = menwei("server", "init", "--db", db, "--data-dir", str(tmp_path), "--admin", "root", "--json",
               stdin="correct horse battery\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["admin"] == "root"
    eng = create_engine(db)
    with eng.connect() as c:
        user = c.execute(select(User.username, User.role, User.password_hash)).one()
        assert user[0] == "root" and user[1] == "admin"
        assert "correct horse" not in user[2] and user[2].startswith("$2")  # a bcrypt hash, never the password
        assert c.execute(select(AuditLog.action).where(AuditLog.username == "cli:init")).scalar() == "create"
    eng.dispose()
    again = menwei("server", "init", "--db", db, "--data-dir", str(tmp_path), "--admin", "root",
                   stdin="correct horse battery\n")
    assert again.returncode == 2 and again.stderr.startswith("menwei: error:") and "Traceback" not in again.stderr
    short = menwei("server", "init", "--db", db, "--data-dir", str(tmp_path), "--admin", "other", stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr


def test_run_smoke(tmp_path, broker_url, uid):
    db = f"sqlite:///{tmp_path / 'server.db'}"
    assert menwei("server", "init", "--db", db, "--data-dir", str(tmp_path), "--admin", "root",
                  stdin="correct horse battery\n").returncode == 0
    port = free_port()
    # its own group and id (the session is ended by shared_broker_hygiene): the default group would
    # leave a member of $share/ingest on the shared broker
    env = {**os.environ, "MENWEI_INGEST__CLIENT_ID": f"ingest-{uid}", "MENWEI_INGEST__SHARED_GROUP": f"g{uid}",
           "MENWEI_INGEST__REMATCH": "false"}
    proc = subprocess.Popen([MENWEI, "server", "run", "--db", db, "--data-dir", str(tmp_path), "--mqtt", broker_url,
                             "--listen", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()  # the ready line, printed once uvicorn listens
        assert "menwei server: API" in line, proc.stderr.read() if proc.poll() is not None else line
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/docs").status_code == 200
            assert http.get("/api/v1/sites").status_code == 401
            tok = http.post("/api/v1/auth/token", data={"username": "root", "password": "correct horse battery"})
            headers = {"Authorization": f"Bearer {tok.json()['access_token']}"}
            assert http.post("/api/v1/sites", json={"id": f"s{uid}", "name": "S"}, headers=headers).status_code == 201
            gate = http.post("/api/v1/gates", json={"id": f"g{uid}", "site_id": f"s{uid}", "direction": "in"},
                             headers=headers)
            assert gate.status_code == 201 and gate.json()["mqtt"]["username"] == f"gate.g{uid}"
            assert [g["id"] for g in http.get("/api/v1/gates", headers=headers).json()] == [f"g{uid}"]
            # the gate reports its status (retained); the ingest in the same process stores it and the
            # gates API shows the gallery version the gate runs
            import paho.mqtt.publish as mqtt_publish

            mqtt_publish.single(f"menwei/v1/s{uid}/g{uid}/status", json.dumps(
                {"state": "online", "gallery_version": 0, "agent_version": "t"}), qos=1, retain=True,
                hostname=urlsplit(broker_url).hostname, port=urlsplit(broker_url).port or 1883)
            deadline, info = time.time() + 15, {}
            while time.time() < deadline:
                info = http.get(f"/api/v1/gates/g{uid}", headers=headers).json()
                if info["state"] == "online":
                    break
                time.sleep(0.1)
            mqtt_publish.single(f"menwei/v1/s{uid}/g{uid}/status", b"", qos=1, retain=True,  # leave no retained
                                hostname=urlsplit(broker_url).hostname, port=urlsplit(broker_url).port or 1883)
            assert info["state"] == "online" and info["gallery_version"] == 0 and info["agent_version"] == "t"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0, proc.stderr.read()


@pytest.mark.slow
def test_import_residents_cli(tmp_path, broker_url, uid, photos):
    """The CLI import (loads the engine in a fresh process: the slow part of this test)."""
    db = f"sqlite:///{tmp_path / 'server.db'}"
    assert menwei("server", "init", "--db", db, "--data-dir", str(tmp_path), "--admin", "root",
                  stdin="correct horse battery\n").returncode == 0
    eng = create_engine(db)
    with eng.begin() as c:
        c.exec_driver_sql(f"INSERT INTO sites (id, name, created_at) VALUES ('s{uid}', 'S', '2026-01-01 00:00:00')")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a1.jpg").write_bytes(photos["obama"])
    (folder / "a2.jpg").write_bytes(photos["group"])
    csv_path = tmp_path / "residents.csv"
    csv_path.write_text("resident_id,name,building,unit,household,status,valid_from,valid_until\n"
                        "a1,Obama,1,1,101,resident,,\n"
                        "a2,Group,1,1,102,resident,,\n"
                        "a3,Nobody,1,1,103,visitor,,\n", encoding="utf-8")
    r = menwei("server", "import-residents", "--db", db, "--data-dir", str(tmp_path), "--mqtt", broker_url,
               "--site", f"s{uid}", str(csv_path), "--photos", str(folder), "--create-units", "--json", timeout=300)
    assert r.returncode == 1, r.stderr  # some rows rejected
    report = json.loads(r.stdout)
    assert {x["resident_id"]: x["result"] for x in report["rows"]} == {
        "a1": "enrolled", "a2": "multiple_faces", "a3": "invalid_row"}
    assert report["gallery"]["version"] == 1
    with eng.connect() as c:
        assert list(c.execute(select(Resident.id))) == [("a1",)]
    eng.dispose()
    missing = menwei("server", "import-residents", "--db", db, "--data-dir", str(tmp_path), "--site", "nope",
                     str(tmp_path / "none.csv"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_broker_files_work_with_mosquitto(tmp_path, uid):
    """Generated passwd/ACL loaded by a real Mosquitto: the gate logs in with the password the API gave,
    may publish on its own topics only, and a wrong password is refused."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from server.broker_auth import GateAccount, hash_password, write_files

    gate_pw, server_pw = "gate-password-123", "server-password-123"
    passwd, acl = write_files(tmp_path / "broker", [GateAccount(f"s{uid}", f"g{uid}", hash_password(gate_pw))],
                              "server", hash_password(server_pw))
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # run as the current user: as root Mosquitto would drop to "mosquitto", who cannot read 0600 files
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
                    f"persistence false\nuser {getpass.getuser()}\n")
    broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

        def client(user, pw):
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-{uid}")
            c.username_pw_set(user, pw)
            got = []
            c.on_message = lambda _c, _u, m: got.append(m.topic)
            rc = c.connect("127.0.0.1", port)
            c.loop_start()
            time.sleep(0.3)
            return c, got, rc

        srv, got, _ = client("server", server_pw)
        assert srv.is_connected()
        srv.subscribe("menwei/v1/#", qos=1)
        time.sleep(0.3)
        gate, _, _ = client(f"gate.g{uid}", gate_pw)
        assert gate.is_connected()
        gate.publish(f"menwei/v1/s{uid}/g{uid}/evt/entry", b"{}", qos=1).wait_for_publish(5)
        gate.publish(f"menwei/v1/s{uid}/other/evt/entry", b"{}", qos=1).wait_for_publish(5)  # not its topic
        time.sleep(0.5)
        assert got == [f"menwei/v1/s{uid}/g{uid}/evt/entry"]
        bad, _, _ = client(f"gate.g{uid}", "wrong-password")
        assert not bad.is_connected()
        for c in (srv, gate, bad):
            c.loop_stop()
            c.disconnect()
    finally:
        broker.terminate()
        broker.wait(timeout=10)


def test_run_embedded_broker(tmp_path, uid):
    """With no --mqtt (and no db): SQLite in the data dir and the in-process broker; a remote open
    sent through the API reaches a gate subscribed to that broker."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    data = tmp_path / "data"
    assert menwei("server", "init", "--data-dir", str(data), "--admin", "root",
                  stdin="correct horse battery\n", cwd=tmp_path).returncode == 0
    port, mport = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENWEI_")}
    env["MENWEI_INGEST__REMATCH"] = "false"
    proc = subprocess.Popen([MENWEI, "server", "run", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
                             "--embedded-broker", f"127.0.0.1:{mport}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    gate = None
    try:
        line = proc.stdout.readline()
        assert "in-process" in line, proc.stderr.read() if proc.poll() is not None else line
        assert (data / "server.db").exists()
        got = []
        gate = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"g{uid}")
        subscribed = threading.Event()
        gate.on_message = lambda _c, _u, m: got.append(json.loads(m.payload))
        gate.on_subscribe = lambda *_: subscribed.set()
        gate.connect("127.0.0.1", mport)
        gate.loop_start()
        gate.subscribe(f"menwei/v1/s{uid}/g{uid}/ctl/#", qos=1)
        assert subscribed.wait(10)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            tok = http.post("/api/v1/auth/token", data={"username": "root", "password": "correct horse battery"})
            h = {"Authorization": f"Bearer {tok.json()['access_token']}"}
            assert http.post("/api/v1/sites", json={"id": f"s{uid}", "name": "S"}, headers=h).status_code == 201
            assert http.post("/api/v1/gates", json={"id": f"g{uid}", "site_id": f"s{uid}", "direction": "in"},
                             headers=h).status_code == 201
            r = http.post(f"/api/v1/gates/g{uid}/commands", json={"kind": "open", "reason": "test"}, headers=h)
            assert r.status_code == 202
        deadline = time.time() + 10
        while not got and time.time() < deadline:
            time.sleep(0.05)
        assert got and got[0]["kind"] == "open" and got[0]["operator"] == "root"
    finally:
        if gate is not None:
            gate.loop_stop()
            gate.disconnect()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    assert rc == 0


def test_retention_and_broker_files_commands(tmp_path, uid):
    db = f"sqlite:///{tmp_path / 'server.db'}"
    assert menwei("server", "init", "--db", db, "--data-dir", str(tmp_path), "--admin", "root",
                  stdin="correct horse battery\n").returncode == 0
    r = menwei("server", "retention", "--db", db, "--data-dir", str(tmp_path), "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["dry_run"] is True and report["entries"] == 0
    eng = create_engine(db)
    from server.broker_auth import hash_password, verify_password

    with eng.begin() as c:
        c.exec_driver_sql("INSERT INTO sites (id, name, created_at) VALUES ('s1', 'S', '2026-01-01 00:00:00')")
        c.exec_driver_sql("INSERT INTO gates (id, site_id, direction, active, state, mqtt_password_hash, "
                          "desired_config_version, created_at) VALUES ('g1', 's1', 'in', 1, 'unknown', ?, 0, "
                          "'2026-01-01 00:00:00')", (hash_password("gate-pass-1"),))
    eng.dispose()
    out = tmp_path / "broker"
    r = menwei("server", "broker-files", "--db", db, "--data-dir", str(tmp_path), "--out", str(out),
               "--server-user", "server", stdin="server-pass-1\n")
    assert r.returncode == 0, r.stderr
    lines = dict(x.split(":", 1) for x in (out / "passwd").read_text().splitlines())
    assert verify_password("gate-pass-1", lines["gate.g1"]) and verify_password("server-pass-1", lines["server"])
    assert "topic write menwei/v1/s1/g1/evt/entry" in (out / "acl").read_text()
    assert os.stat(out / "passwd").st_mode & 0o777 == 0o600
