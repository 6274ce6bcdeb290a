"""`menwei server provision-gate` and `menwei edge install` without a broker (issue 14 part 4):
the bundle's secrecy and atomicity, one-line refusals that change nothing, and the installed
files. The broker side (TLS, ACL, rotation, moving a box) is in test_broker_production.py."""

from __future__ import annotations

import os
import stat

import pytest
import yaml
from deploy_kit import bundle_data, bundle_login, gate_row, menwei, seed_gates
from sqlalchemy import select
from tls_kit import make_ca

from server.broker_auth import verify_password

BROKER = "mqtts://broker.example:8883"


@pytest.fixture
def ca(tmp_path):
    return make_ca(tmp_path / "ca")


def provision(db_url, gate, out, *extra):
    return menwei("server", "provision-gate", gate, "--db", db_url, "--out", out, "--broker", BROKER,
                  "--server-url", "https://server.example", *extra)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_bundle_is_secret_and_holds_a_new_password(db_url, tmp_path, uid, ca):
    site, gate = f"s{uid}", f"g{uid}"
    seed_gates(db_url, site, {gate: "in"})
    out = tmp_path / "bundle.yaml"
    r = provision(db_url, gate, out, "--ca", ca.ca)
    assert r.returncode == 0, r.stderr
    assert _mode(out) == 0o600
    user, password = bundle_login(out)
    assert user == f"gate.{gate}" and len(password) >= 24
    assert password not in r.stdout + r.stderr  # only the bundle carries it
    data = bundle_data(out)
    assert data["bundle"] == "menwei.gate-bundle/1" and (data["site"], data["gate"]) == (site, gate)
    assert data["ca_pem"] == ca.ca.read_text()
    assert data["gate_file"]["server"]["url"] == "https://server.example"
    assert data["gate_file"]["mqtt"]["url"].startswith("mqtts://") and "broker.example:8883" in data["gate_file"]["mqtt"]["url"]
    row = gate_row(db_url, gate)
    assert verify_password(password, row.mqtt_password_hash)
    assert password not in row.mqtt_password_hash

    # a second run refuses to overwrite; --force replaces it with yet another password
    again = provision(db_url, gate, out, "--ca", ca.ca)
    assert again.returncode == 2 and again.stderr.strip().count("\n") == 0 and "--force" in again.stderr
    assert bundle_login(out)[1] == password and verify_password(password, gate_row(db_url, gate).mqtt_password_hash)
    forced = provision(db_url, gate, out, "--ca", ca.ca, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    new = bundle_login(out)[1]
    assert new != password and new not in forced.stdout
    hashed = gate_row(db_url, gate).mqtt_password_hash
    assert verify_password(new, hashed) and not verify_password(password, hashed)
    assert list(tmp_path.glob(".bundle.yaml.*")) == []  # no temporary file left behind


def test_provisioning_is_audited(db_url, tmp_path, uid):
    from server.db.models import AuditLog
    from server.db.session import make_engine, session_factory

    site, gate = f"s{uid}", f"g{uid}"
    seed_gates(db_url, site, {gate: "out"})
    assert provision(db_url, gate, tmp_path / "b.yaml").returncode == 0
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.object_id == gate)).all()
    engine.dispose()
    assert [(r.action, r.username, r.site_id) for r in rows] == [("rotate_credentials", "cli:provision-gate", site)]
    assert bundle_data(tmp_path / "b.yaml")["gate_file"]["direction"] == "out"


@pytest.mark.parametrize("case", ["missing", "inactive", "both", "plain", "no_folder"])
def test_refusals_are_one_line_and_change_nothing(db_url, tmp_path, uid, case):
    site, gate = f"s{uid}", f"g{uid}"
    seed_gates(db_url, site, {gate: "in", f"b{uid}": "both", f"off{uid}": "in"}, inactive=(f"off{uid}",))
    out = tmp_path / "b.yaml"
    target, extra, expect = {
        "missing": (f"nope{uid}", (), f"gate nope{uid} not found"),
        "inactive": (f"off{uid}", (), f"gate off{uid} is deactivated"),
        "both": (f"b{uid}", (), "--direction in|out"),
        "plain": (gate, ("--broker", "mqtt://broker.example:1883"), "in clear"),
        "no_folder": (gate, ("--out", tmp_path / "no" / "such" / "b.yaml"), "is not a folder"),
    }[case]
    before = gate_row(db_url, target).mqtt_password_hash if case != "missing" else None
    r = menwei("server", "provision-gate", target, "--db", db_url, "--out", out, "--broker", BROKER,
               "--server-url", "https://server.example", *extra)
    assert r.returncode == 2
    assert r.stderr.startswith("menwei: error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert expect in r.stderr
    assert not out.exists() and list(tmp_path.rglob(".b.yaml.*")) == []
    if case != "missing":
        assert gate_row(db_url, target).mqtt_password_hash == before  # the gate's password is untouched


def test_a_both_direction_gate_gets_the_direction_of_this_box(db_url, tmp_path, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed_gates(db_url, site, {gate: "both"})
    r = provision(db_url, gate, tmp_path / "b.yaml", "--direction", "out")
    assert r.returncode == 0, r.stderr
    assert bundle_data(tmp_path / "b.yaml")["gate_file"]["direction"] == "out"


def test_template_gives_devices_but_not_identity(db_url, tmp_path, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed_gates(db_url, site, {gate: "in"})
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump({
        "site": "other", "gate": "other", "direction": "out", "data_dir": "/srv/gate",
        "camera": {"source": "rtsp://10.0.0.5/stream"}, "thermal": {"sensor": "p2pro"},
        "door": {"driver": "ch340", "port": "/dev/ttyUSB0"},
        "mqtt": {"url": "mqtt://someone:else@evil:1883", "inflight": 20},
        "server": {"url": "http://evil"}}))
    r = provision(db_url, gate, tmp_path / "b.yaml", "--template", template)
    assert r.returncode == 0, r.stderr
    gf = bundle_data(tmp_path / "b.yaml")["gate_file"]
    assert (gf["site"], gf["gate"], gf["direction"]) == (site, gate, "in")
    assert gf["camera"] == {"source": "rtsp://10.0.0.5/stream"} and gf["door"]["port"] == "/dev/ttyUSB0"
    assert gf["data_dir"] == "/srv/gate" and gf["mqtt"]["inflight"] == 20
    assert "evil" not in gf["mqtt"]["url"] and gf["server"]["url"] == "https://server.example"
    # a template the gate would refuse is refused here, naming the field, before any password changes
    before = gate_row(db_url, gate).mqtt_password_hash
    template.write_text(yaml.safe_dump({"camera": {"source": "/dev/video0", "stall_timeout_s": -1}}))
    bad = provision(db_url, gate, tmp_path / "c.yaml", "--template", template)
    assert bad.returncode == 2 and "camera.stall_timeout_s" in bad.stderr and bad.stderr.count("\n") == 1
    assert gate_row(db_url, gate).mqtt_password_hash == before


def _install(bundle, tmp_path, *extra):
    return menwei("edge", "install", bundle, "--dir", tmp_path / "etc", "--user", "root", "--no-connect", *extra)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_edge_install_places_files_validates_and_guards_data_dirs(db_url, tmp_path, uid, ca):
    site, gate, other = f"s{uid}", f"g{uid}", f"h{uid}"
    seed_gates(db_url, site, {gate: "in", other: "in"})
    assert provision(db_url, gate, tmp_path / "b.yaml", "--ca", ca.ca).returncode == 0
    data = tmp_path / "data" / gate
    r = _install(tmp_path / "b.yaml", tmp_path, "--data-dir", data)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [ln.split(":")[0] for ln in r.stdout.splitlines()] == [
        "ok   bundle", "ok   files", "ok   config", "ok   install", "ok   data dir", "ok   broker"]
    gate_file, ca_file = tmp_path / "etc" / "gate.yaml", tmp_path / "etc" / "ca.pem"
    assert _mode(gate_file) == 0o600 and _mode(data) == 0o700
    assert ca_file.read_text() == ca.ca.read_text()
    installed = yaml.safe_load(gate_file.read_text())
    assert installed["mqtt"]["url"].endswith(f"?ca={ca_file}") and installed["data_dir"] == str(data)
    assert bundle_login(tmp_path / "b.yaml")[1] not in r.stdout + r.stderr
    check = menwei("edge", "check-config", gate_file)
    assert check.returncode == 0 and check.stdout.startswith(f"ok: gate {gate} of {site}")

    # installed already: refused without --force, and the installed file stays
    again = _install(tmp_path / "b.yaml", tmp_path, "--data-dir", data, "--json")
    rep = yaml.safe_load(again.stdout)
    assert again.returncode == 2 and not rep["ok"] and rep["steps"][-1]["step"] == "files"
    assert "--force" in rep["steps"][-1]["detail"]
    # another gate on this box may not take over the first one's data dir (its seqs start at 1)
    assert provision(db_url, other, tmp_path / "o.yaml", "--ca", ca.ca).returncode == 0
    moved = _install(tmp_path / "o.yaml", tmp_path, "--force", "--data-dir", data)
    assert moved.returncode == 2 and f"belongs to gate {site}/{gate}" in moved.stdout
    assert yaml.safe_load(gate_file.read_text())["gate"] == gate  # nothing replaced
    ok = _install(tmp_path / "o.yaml", tmp_path, "--force", "--data-dir", tmp_path / "data" / other)
    assert ok.returncode == 0, ok.stdout
    assert yaml.safe_load(gate_file.read_text())["gate"] == other
    assert list((tmp_path / "etc").glob(".*.tmp")) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_keep_devices_keeps_the_boxs_wiring(db_url, tmp_path, uid):
    site, gate = f"s{uid}", f"g{uid}"
    seed_gates(db_url, site, {gate: "in"})
    assert provision(db_url, gate, tmp_path / "b.yaml").returncode == 0
    assert _install(tmp_path / "b.yaml", tmp_path, "--data-dir", tmp_path / "d").returncode == 0
    gate_file = tmp_path / "etc" / "gate.yaml"
    wired = yaml.safe_load(gate_file.read_text())
    wired["camera"] = {"source": "rtsp://10.0.0.9/live"}
    wired["door"] = {"driver": "ch340", "port": "/dev/ttyUSB1"}
    gate_file.write_text(yaml.safe_dump(wired))
    assert provision(db_url, gate, tmp_path / "b.yaml", "--force").returncode == 0  # rotation
    # no --data-dir: the same gate keeps the data dir it was installed with (its seqs go on)
    r = _install(tmp_path / "b.yaml", tmp_path, "--force", "--keep-devices")
    assert r.returncode == 0, r.stdout
    now = yaml.safe_load(gate_file.read_text())
    assert now["data_dir"] == str(tmp_path / "d")
    assert now["camera"] == wired["camera"] and now["door"] == wired["door"]
    assert bundle_login(tmp_path / "b.yaml")[1] in now["mqtt"]["url"] and now["mqtt"]["url"] != wired["mqtt"]["url"]


def test_edge_install_refuses_what_is_not_a_bundle(tmp_path):
    bad = tmp_path / "gate.yaml"
    bad.write_text("site: s\ngate: g\n")
    r = _install(bad, tmp_path)
    assert r.returncode == 2 and "FAIL bundle" in r.stdout and "not a gate bundle" in r.stdout
    assert not (tmp_path / "etc").exists()
    r = menwei("edge", "install", tmp_path / "missing.yaml", "--dir", tmp_path / "etc", "--no-connect")
    assert r.returncode == 2 and "cannot read" in r.stdout and "Traceback" not in r.stdout + r.stderr
    bad.write_text("bundle: menwei.gate-bundle/1\nsite: s\n")
    r = _install(bad, tmp_path)
    assert r.returncode == 2 and "gate_file" in r.stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_install_as_root_names_a_missing_service_user(tmp_path, db_url, uid):
    if os.geteuid() != 0:
        pytest.skip("chown happens only as root")
    site, gate = f"s{uid}", f"g{uid}"
    seed_gates(db_url, site, {gate: "in"})
    assert provision(db_url, gate, tmp_path / "b.yaml").returncode == 0
    r = menwei("edge", "install", tmp_path / "b.yaml", "--dir", tmp_path / "etc", "--user", f"nobody-{uid}",
               "--no-connect")
    assert r.returncode == 2 and f"user 'nobody-{uid}' does not exist" in r.stdout and "FAIL files" in r.stdout
    assert not (tmp_path / "etc" / "gate.yaml").exists()


def test_rewritten_broker_files_keep_their_owner_and_the_server_account(tmp_path):
    """The admin chowns passwd/acl to the broker's user once; provisioning rewrites them as root
    and must neither hand them back to root (unreadable to Mosquitto at its reload) nor drop the
    server's account it cannot recreate (its password is not stored)."""
    from server.broker_auth import GateAccount, hash_password, refresh_gate_accounts, write_files

    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    d = tmp_path / "broker"
    write_files(d, [GateAccount("s", "g1", hash_password("one"))], "menwei-server", hash_password("srv"))
    for name in ("passwd", "acl"):
        os.chown(d / name, 65534, 65534)
    refresh_gate_accounts(d, [GateAccount("s", "g1", hash_password("two")), GateAccount("s", "g2", hash_password("x"))])
    for name in ("passwd", "acl"):
        st = os.stat(d / name)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o600)
    users = [ln.split(":")[0] for ln in (d / "passwd").read_text().splitlines()]
    assert sorted(users) == ["gate.g1", "gate.g2", "menwei-server"]
    acl = (d / "acl").read_text()
    assert "user menwei-server\ntopic readwrite menwei/v1/#" in acl and acl.count("user gate.") == 2
    assert verify_password("two", dict(ln.split(":", 1) for ln in (d / "passwd").read_text().splitlines())["gate.g1"])


def test_check_config_never_prints_the_gates_password(tmp_path):
    """After install the technician runs check-config; neither its JSON nor an error about the URL
    may show the password that sits in the gate file."""
    secret = "pw-" + "s3cr3t" * 4
    gate_file = tmp_path / "gate.yaml"
    base = {"site": "s", "gate": "g", "data_dir": str(tmp_path / "d"), "camera": {"source": "/dev/video0"},
            "server": {"url": "http://x"}}
    gate_file.write_text(yaml.safe_dump({**base, "mqtt": {"url": f"mqtts://gate.g:{secret}@h:8883?ca=/c.pem"}}))
    r = menwei("edge", "check-config", gate_file, "--json")
    assert r.returncode == 0 and secret not in r.stdout + r.stderr
    assert yaml.safe_load(r.stdout)["mqtt"]["url"] == "mqtts://gate.g:***@h:8883?ca=/c.pem"
    gate_file.write_text(yaml.safe_dump({**base, "mqtt": {"url": f"mqtts://gate.g:{secret}@h:88x3"}}))
    r = menwei("edge", "check-config", gate_file)
    assert r.returncode == 2 and "bad port" in r.stderr and secret not in r.stdout + r.stderr
