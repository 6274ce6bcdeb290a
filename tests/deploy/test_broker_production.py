"""The production broker (issue 14 part 5) and provisioned gates on it (part 4), for real: a
Mosquitto started here on free ports with the mosquitto.conf `broker-files --tls-cert` writes, a
throw-away CA, a PostgreSQL registry, and gates whose passwords come only from their bundles.

Expectations come from the contract and from Mosquitto, not from the generated text: a gate gets
in over TLS only, with its own password, writes only its own topics, an entry event of the
largest size the wire contract allows goes through while a larger packet costs the connection,
and a rotated or revoked password stops working after the broker files are rewritten and
Mosquitto gets SIGHUP."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from broker_kit import Client, PrivateMosquitto, free_port
from deploy_kit import bundle_login, menwei, seed_gates, set_active
from ingest_kit import create_pg_database, drop_pg_database, wait_for
from tls_kit import make_ca

from menwei.wire import MAX_ENTRY_PAYLOAD_BYTES
from server.db.session import upgrade

SERVER_USER, SERVER_PW = "menwei-server", "server-password-123"


@dataclass
class Prod:
    tmp: Path
    db: str
    site: str
    gates: list[str]
    ca: object
    gport: int
    sport: int
    broker_dir: Path
    broker: PrivateMosquitto | None = None

    @property
    def pid_file(self) -> Path:
        return self.tmp / "run" / "mosquitto.pid"

    def provision(self, gate: str, *extra: str) -> Path:
        out = self.tmp / f"{gate}.bundle.yaml"
        r = menwei("server", "provision-gate", gate, "--db", self.db, "--out", out,
                   "--broker", f"mqtts://127.0.0.1:{self.gport}", "--ca", self.ca.ca,
                   "--server-url", "http://127.0.0.1:9", *extra)
        assert r.returncode == 0, r.stderr
        return out

    def start(self) -> None:
        conf = (self.broker_dir / "mosquitto.conf").read_text()
        self.broker = PrivateMosquitto(self.tmp / "run", conf, [self.gport, self.sport], persistence=True)

    def gate(self, login: tuple[str, str], **kw) -> Client:
        user, password = login
        return Client(self.gport, user, password, client_id=user, ca=self.ca.ca, **kw)

    def server(self) -> Client:
        return Client(self.sport, SERVER_USER, SERVER_PW, client_id=f"srv-{uuid.uuid4().hex[:8]}")

    def entry(self, gate: str) -> str:
        return f"menwei/v1/{self.site}/{gate}/evt/entry"


@pytest.fixture
def prod(tmp_path, uid, pg_admin_url):
    db = create_pg_database(pg_admin_url)
    upgrade(db)
    site = f"s{uid}"
    gates = [f"a{uid}", f"b{uid}"]
    seed_gates(db, site, {gates[0]: "in", gates[1]: "out"})
    (tmp_path / "run").mkdir()
    p = Prod(tmp_path, db, site, gates, make_ca(tmp_path / "ca"), free_port(), free_port(), tmp_path / "broker")
    for g in gates:
        p.provision(g)
    (tmp_path / "server.pw").write_text(SERVER_PW + "\n")
    r = menwei("server", "broker-files", "--db", db, "--out", p.broker_dir, "--server-user", SERVER_USER,
               "--server-password-file", tmp_path / "server.pw",
               "--gate-listener", f"127.0.0.1:{p.gport}", "--server-listener", f"127.0.0.1:{p.sport}",
               "--tls-cert", p.ca.cert, "--tls-key", p.ca.key, "--ca", p.ca.ca,
               "--persistence-dir", tmp_path / "persist", "--pid-file", p.pid_file)
    assert r.returncode == 0, r.stderr
    (tmp_path / "persist").mkdir()
    p.start()
    try:
        yield p
    finally:
        if p.broker is not None:
            p.broker.stop()
        drop_pg_database(pg_admin_url, db)


def _gallery_row(db: str, site: str, version: int) -> None:
    """A published gallery version of the compound (what publish-galleries stores)."""
    from server.db.models import GalleryVersion
    from server.db.session import make_engine, session_factory

    engine = make_engine(db)
    with session_factory(engine).begin() as s:
        s.add(GalleryVersion(site_id=site, pack="dlib-resnet", version=version, sha256="0" * 64, count=0))
    engine.dispose()


def _codes(suback: list) -> list[int]:
    return [int(getattr(c, "value", c)) for c in suback]


def _received(client: Client, topic: str, timeout: float = 5.0) -> list[bytes]:
    return wait_for(lambda: [m for t, m in client.messages if t == topic], timeout)


def test_gates_get_in_over_tls_only_with_their_own_password_and_topics(prod):
    a, b = prod.gates
    login = bundle_login(prod.tmp / f"{a}.bundle.yaml")
    server = prod.server()
    assert server.accepted, "the server account on the loopback listener"
    assert _codes(server.subscribe(f"menwei/v1/{prod.site}/+/evt/entry")) == [1]
    try:
        plain = Client(prod.gport, *login, client_id=login[0])  # no TLS on the gates' port
        assert not plain.accepted
        plain.close()
        wrong = prod.gate((login[0], login[1] + "x"))
        assert not wrong.accepted and wrong.reason is not None  # a CONNACK that refuses the login
        wrong.close()
        other = prod.gate(bundle_login(prod.tmp / f"{b}.bundle.yaml"))
        assert other.accepted  # b's own password is b's, not a's
        other.close()

        gate = prod.gate(login)
        assert gate.accepted
        gate.publish(prod.entry(a), b'{"seq": 1}')
        assert _received(server, prod.entry(a)) == [b'{"seq": 1}']
        gate.publish(prod.entry(b), b'{"seq": 1}')  # another gate's topic: dropped by the ACL
        time.sleep(1.0)
        assert _received(server, prod.entry(b), 0.1) == []
        # Mosquitto 2 grants the SUBSCRIBE but delivers only what the ACL lets the gate read
        gate.subscribe(f"menwei/v1/{prod.site}/+/ctl/#")
        time.sleep(0.3)
        server.publish(f"menwei/v1/{prod.site}/{b}/ctl/cmd", b'{"kind": "open"}')
        server.publish(f"menwei/v1/{prod.site}/{a}/ctl/cmd", b'{"kind": "snapshot"}')
        assert _received(gate, f"menwei/v1/{prod.site}/{a}/ctl/cmd") == [b'{"kind": "snapshot"}']
        assert [t for t, _ in gate.messages] == [f"menwei/v1/{prod.site}/{a}/ctl/cmd"]

        # an entry event as large as the wire contract allows goes through; a bigger packet ends the connection
        big = b"x" * MAX_ENTRY_PAYLOAD_BYTES
        gate.publish(prod.entry(a), big)
        assert wait_for(lambda: big in _received(server, prod.entry(a), 0.1), 10)
        gate.c.publish(prod.entry(a), b"y" * (2 * MAX_ENTRY_PAYLOAD_BYTES), qos=1)
        assert gate.disconnected.wait(10), "an oversized packet did not cost the connection"
        time.sleep(0.5)
        assert all(len(m) <= MAX_ENTRY_PAYLOAD_BYTES for m in _received(server, prod.entry(a), 0.1))
        gate.close()
    finally:
        server.close()


def test_rotation_revokes_the_old_password_after_reload(prod):
    a = prod.gates[0]
    old = bundle_login(prod.tmp / f"{a}.bundle.yaml")
    held = prod.gate(old)
    assert held.accepted
    _gallery_row(prod.db, prod.site, version=3)
    bundle = prod.tmp / f"{a}.bundle.yaml"
    r = menwei("server", "provision-gate", a, "--db", prod.db, "--out", bundle, "--force",
               "--broker", f"mqtts://127.0.0.1:{prod.gport}", "--ca", prod.ca.ca, "--server-url", "http://x",
               "--broker-dir", prod.broker_dir, "--reload", prod.pid_file, "--data-dir", prod.tmp / "srv",
               "--mqtt", f"mqtt://{SERVER_USER}:{SERVER_PW}@127.0.0.1:{prod.sport}")
    assert r.returncode == 0, r.stderr
    assert "sent SIGHUP" in r.stdout and "gallery link: announced" in r.stdout
    new = bundle_login(bundle)
    assert new[1] != old[1] and new[1] not in r.stdout + r.stderr
    # Mosquitto 2.0 checks the connected clients again on reload: the old password's connection
    # ends at the SIGHUP, not at its next login (its log: "Reloading config." then "disconnected")
    assert held.disconnected.wait(5), "a connection with the old password outlived the reload"
    held.close()

    def logs_in(login) -> bool:
        c = prod.gate(login)
        ok = c.accepted
        c.close()
        return ok

    assert wait_for(lambda: logs_in(new), 10), "the new password does not work after SIGHUP"
    assert not logs_in(old)
    # the gallery link is signed for the password: a new one waits, retained, on the gate's ctl/gallery
    gate = prod.gate(new)
    gallery = f"menwei/v1/{prod.site}/{a}/ctl/gallery"
    gate.subscribe(gallery)
    got = _received(gate, gallery)
    gate.close()
    assert len(got) == 1 and json.loads(got[0])["version"] == 3 and f"gate={a}" in json.loads(got[0])["url"]
    server = prod.server()  # the server account, kept by provision-gate's rewrite of the files
    assert server.accepted
    server.close()


def test_moving_a_box_to_another_gate_with_edge_install(prod):
    a, b = prod.gates
    etc, data = prod.tmp / "box" / "etc", prod.tmp / "box" / "data"

    def install(bundle, *extra):
        return menwei("edge", "install", bundle, "--dir", etc, "--user", "root", *extra)

    r = install(prod.tmp / f"{a}.bundle.yaml", "--data-dir", data / a)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"ok   broker: connected to mqtts://gate.{a}:***@127.0.0.1:{prod.gport} over TLS" in r.stdout
    old_login = bundle_login(prod.tmp / f"{a}.bundle.yaml")

    # the box becomes gate b: a is deactivated (PATCH active=false), b provisioned anew
    set_active(prod.db, a, False)
    bundle_b = prod.provision(b, "--force")
    early = install(bundle_b, "--force", "--data-dir", data / b)  # before the broker knows b's new password
    assert early.returncode == 2 and "FAIL broker" in early.stdout and "refused" in early.stdout
    assert bundle_login(bundle_b)[1] not in early.stdout + early.stderr
    r = menwei("server", "broker-files", "--db", prod.db, "--out", prod.broker_dir, "--server-user", SERVER_USER,
               "--server-password-file", prod.tmp / "server.pw", "--reload", prod.pid_file)
    assert r.returncode == 0, r.stderr
    wrong_dir = install(bundle_b, "--force", "--data-dir", data / a)
    assert wrong_dir.returncode == 2 and f"belongs to gate {prod.site}/{a}" in wrong_dir.stdout
    runs = []  # SIGHUP is asynchronous: the broker may need a moment to read the new files
    assert wait_for(lambda: runs.append(install(bundle_b, "--force", "--data-dir", data / b))
                    or runs[-1].returncode == 0, 10), runs[-1].stdout
    assert "ok   broker: connected" in runs[-1].stdout

    installed = yaml.safe_load((etc / "gate.yaml").read_text())
    assert installed["gate"] == b and installed["data_dir"] == str(data / b)
    assert not prod.gate(old_login).accepted  # gate a's credentials are revoked
    server = prod.server()
    server.subscribe(f"menwei/v1/{prod.site}/+/evt/entry")
    box = prod.gate(bundle_login(bundle_b))
    try:
        assert box.accepted
        box.publish(prod.entry(b), b'{"seq": 1}')
        box.publish(prod.entry(a), b'{"seq": 99}')
        assert _received(server, prod.entry(b)) == [b'{"seq": 1}']
        time.sleep(0.5)
        assert _received(server, prod.entry(a), 0.1) == []
    finally:
        box.close()
        server.close()


def test_retained_messages_survive_a_restart(prod):
    """persistence true + persistence_location: a restart (which listener changes need) keeps the
    retained ctl/config a gate reads when it comes back."""
    a = prod.gates[0]
    topic = f"menwei/v1/{prod.site}/{a}/ctl/config"
    server = prod.server()
    server.publish(topic, b'{"version": 7}', retain=True)
    server.close()
    prod.broker.stop()
    assert (prod.tmp / "persist" / "mosquitto.db").exists()
    prod.start()
    gate = prod.gate(bundle_login(prod.tmp / f"{a}.bundle.yaml"))
    try:
        gate.subscribe(topic)
        assert _received(gate, topic) == [b'{"version": 7}']
    finally:
        gate.close()


def test_broker_files_refuses_a_certificate_the_gates_would_refuse(tmp_path):
    ours, theirs = make_ca(tmp_path / "ours"), make_ca(tmp_path / "theirs", cn="another CA")
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(db)

    def files(cert, key, ca):
        return menwei("server", "broker-files", "--db", db, "--out", tmp_path / "broker",
                      "--gate-listener", "0.0.0.0:8883", "--server-listener", "127.0.0.1:1883",
                      "--tls-cert", cert, "--tls-key", key, "--ca", ca, "--persistence-dir", tmp_path)

    r = files(ours.cert, ours.key, theirs.ca)
    assert r.returncode == 2 and "was not issued by" in r.stderr and r.stderr.count("\n") == 1
    r = files(ours.cert, theirs.key, ours.ca)
    assert r.returncode == 2 and "is not the key of" in r.stderr
    assert not (tmp_path / "broker").exists()  # nothing written
    r = files(ours.cert, ours.key, ours.ca)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "broker" / "mosquitto.conf").exists()
