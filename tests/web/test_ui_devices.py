"""The property company's Devices page in Debian's Chromium, against one `menwei server run`
(SQLite, its in-process broker) for the whole file and a real gate agent: its compound's gates
only, a config with bad fields refused by the API field by field, a good one pushed and applied by
the running gate, one the gate refuses (an older agent), the gate behind while offline; an admin
rotates the gate's MQTT credentials (shown once; the stored hash is the new password's), and a
property manager has no rotate button and gets 403 from the API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from broker_kit import Client, PrivateMosquitto, free_port
from ui_kit import PASSWORD, RunningGate, seed_registry, shot, start_server, stop_server

from server.broker_auth import verify_password
from server.db.models import AuditLog, Gate


@dataclass
class Fleet:
    uid: str
    site: str
    gate: str
    other_gate: str
    url: str
    mqtt_url: str
    db_url: str
    users: dict[str, str]
    tmp: Path

    def headers(self, role: str) -> dict[str, str]:
        r = httpx.post(f"{self.url}/api/v1/auth/token", data={"username": self.users[role], "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def gate_row(self, gate_id: str) -> Gate:
        from server.db.session import make_engine, session_factory

        engine = make_engine(self.db_url)
        try:
            with session_factory(engine)() as s:
                g = s.get(Gate, gate_id)
                s.expunge(g)
                return g
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.db.session import make_engine, session_factory

    uid = uuid.uuid4().hex[:10]
    tmp = tmp_path_factory.mktemp("devices-ui")
    site, gate, other = f"dv{uid}", f"dv{uid}-north", f"dv{uid}-other"
    db_url = f"sqlite:///{tmp / 'server.db'}"
    users = seed_registry(db_url, site, gate, other, uid)  # the other compound has gate f"{gate}-x"
    users["admin"] = f"admin-{uid}"
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        create_user(s, users["admin"], PASSWORD, Role.ADMIN, [], rounds=4)
        s.commit()
    engine.dispose()
    proc, url, mqtt_url = start_server(tmp, db_url)
    try:
        yield Fleet(uid, site, gate, f"{gate}-x", url, mqtt_url, db_url, users, tmp)
    finally:
        stop_server(proc)


def _open(browser, fleet: Fleet, role: str):
    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{fleet.url}/")
    page.fill("input[name=username]", fleet.users[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.click("#nav a[data-route=devices]")
    page.wait_for_selector("#device-rows tr[data-gate]")
    return context, page


def _manage(page, gate: str) -> None:
    page.click(f"#device-rows tr[data-gate='{gate}'] button.manage")
    page.wait_for_selector(f"#gate-panel .gp-title:has-text('{gate}')")


def _push(page, config: dict) -> None:
    page.fill("#gate-panel textarea[name=config]", json.dumps(config))
    page.click("#gate-panel .cfg-form button[type=submit]")


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def _broker_files(fleet: Fleet, gport: int, sport: int) -> Path:
    """`menwei server broker-files` from the server's database, as an operator runs it after a rotation."""
    out = fleet.tmp / "broker"
    r = subprocess.run([str(Path(sys.executable).with_name("menwei")), "server", "broker-files", "--db", fleet.db_url,
                        "--out", str(out), "--gate-listener", f"127.0.0.1:{gport}",
                        "--server-listener", f"127.0.0.1:{sport}"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return out


def _gate_broker(fleet: Fleet):
    """A Mosquitto of the test's own whose accounts are the database's (the shared one lets anyone in)."""
    gport, sport = free_port(), free_port()
    out = _broker_files(fleet, gport, sport)
    conf = (out / "menwei-listeners.conf").read_text()
    return PrivateMosquitto(fleet.tmp, conf, [gport, sport]), gport, sport


def _login_ok(port: int, gate: str, password: str) -> bool:
    c = Client(port, f"gate.{gate}", password)
    try:
        return c.accepted
    finally:
        c.close()


def _link_connects(fleet: Fleet, port: int, password: str) -> bool:
    """The gate's own link (edge/link) with these credentials in its broker URL."""
    from urllib.parse import quote

    from edge.link.outbox import Outbox
    from edge.link.session import GateLink, LinkHandlers

    ob = Outbox(fleet.tmp / f"outbox-{uuid.uuid4().hex[:6]}.sqlite", max_events=10)
    url = f"mqtt://gate.{fleet.gate}:{quote(password, safe='')}@127.0.0.1:{port}"
    link = GateLink(url, fleet.site, fleet.gate, ob, LinkHandlers(), session_expiry_s=0)
    link.start()
    try:
        return bool(_wait(lambda: link.stats.connected, 15))
    finally:
        link.stop()
        ob.close()


def _old_agent_parse(real):
    """The gate's own config check, as an agent of a release that has no mask check would do it:
    the server (a newer release) accepts `policy.mask_required`, this gate cannot."""
    from edge.agent.remote_config import RemoteConfigError

    def parse(data):
        if "mask_required" in ((data or {}).get("policy") or {}):
            raise RemoteConfigError("policy.mask_required: Extra inputs are not permitted")
        return real(data)

    return parse


def test_a_property_manager_pushes_a_config_the_gate_applies_refuses_or_has_not_got(
        fleet, browser, faces_dir, face_engine, monkeypatch):
    import edge.agent.agent as agent_module
    from tests.agent.pass_kit import write_pass_video

    context, page = _open(browser, fleet, "property_manager")
    # her compound's gate, not the other compound's (nor does the API give it to her)
    assert [r.get_attribute("data-gate") for r in page.query_selector_all("#device-rows tr")] == [fleet.gate]
    h = fleet.headers("property_manager")
    assert httpx.get(f"{fleet.url}/api/v1/gates/{fleet.other_gate}/config", headers=h).status_code == 404
    assert httpx.put(f"{fleet.url}/api/v1/gates/{fleet.other_gate}/config", headers=h,
                     json={"door_open_ms": 4000}).status_code == 404

    video = write_pass_video(fleet.tmp / "empty-gateway.avi", {}, seconds=4.0)  # nobody walks up
    gate = RunningGate(fleet.tmp, faces_dir, fleet.site, fleet.gate, fleet.mqtt_url, face_engine, video=video,
                       thermal={"sensor": "none"}).start()
    try:
        assert _wait(lambda: fleet.gate_row(fleet.gate).state == "online"), "the gate never came online"
        _manage(page, fleet.gate)
        page.wait_for_selector("#gate-panel .cfg-state[data-state=none]")
        # the door state from the gate's telemetry: the dry-run lock is closed
        page.wait_for_selector("#gate-panel .gp-door:has-text('locked')", timeout=15_000)

        # two bad fields: each named with why, nothing stored or sent
        _push(page, {"door_open_ms": 50, "policy": {"fever": "maybe"}})
        page.wait_for_selector("#gate-panel .cfg-errors li")
        errors = page.eval_on_selector_all("#gate-panel .cfg-errors li", "els => els.map(e => e.textContent)")
        assert len(errors) == 2, errors
        assert any(e.startswith("door_open_ms: ") and "100" in e for e in errors), errors
        assert any(e.startswith("policy.fever: ") and "'hard'" in e for e in errors), errors
        assert fleet.gate_row(fleet.gate).desired_config_version == 0
        # not JSON at all: one line from the page itself
        page.fill("#gate-panel textarea[name=config]", "{door_open_ms: 4500")
        page.click("#gate-panel .cfg-form button[type=submit]")
        page.wait_for_selector("#gate-panel .cfg-errors li:has-text('not valid JSON')")
        assert page.eval_on_selector_all("#gate-panel .cfg-errors li", "els => els.length") == 1

        # a good one: stored as v1, and the running gate applies it
        _push(page, {"door_open_ms": 4500, "policy": {"fever_threshold_c": 37.8}})
        page.wait_for_selector("#gate-panel .cfg-state[data-state=applied]:text-is('applied: the gate runs v1')",
                               timeout=30_000)
        assert gate.agent.remote.door_open_ms == 4500 and gate.agent.remote.policy.fever_threshold_c == 37.8
        g = fleet.gate_row(fleet.gate)
        assert (g.desired_config_version, g.config_version, g.config_error) == (1, 1, None)
        assert json.loads(page.text_content("#gate-panel .cfg-effective"))["door_open_ms"] == 4500
        shot(page, "property-manager-devices-config-applied")

        # a gate of an older release refuses a field it does not know: the page says so, with its reason
        monkeypatch.setattr(agent_module, "parse_remote_config", _old_agent_parse(agent_module.parse_remote_config))
        _push(page, {"door_open_ms": 4500, "policy": {"mask_required": True}})
        refused = page.wait_for_selector("#gate-panel .cfg-state[data-state=refused]", timeout=30_000)
        assert refused.text_content() == ("refused by the gate (it keeps v1): config v2 refused: "
                                          "policy.mask_required: Extra inputs are not permitted")
        assert gate.agent.config_version == 1 and gate.agent.remote.policy.mask_required is False
        # the gate's own report of what fails, from its telemetry, in the panel's errors
        page.wait_for_selector("#gate-panel .gp-errors li.bad:has-text('config: config v2 refused')", timeout=10_000)
        # the table says it too
        page.wait_for_selector(f"#device-rows tr[data-gate='{fleet.gate}'].behind:has-text('config v2 refused')",
                               timeout=10_000)
        shot(page, "property-manager-devices-config-refused")
        # the same in Chinese (the gate's reason stays as the gate wrote it)
        page.click("#lang")
        page.wait_for_selector("#nav a:has-text('设备')")
        _manage(page, fleet.gate)
        page.wait_for_selector("#gate-panel .cfg-state[data-state=refused]:has-text('闸机拒绝（仍运行 v1）')")
        page.wait_for_selector("#gate-panel .gp-door:has-text('已上锁')")
        shot(page, "property-manager-devices-config-refused-zh")
        page.click("#lang")
        page.wait_for_selector("#nav a:has-text('Devices')")
        _manage(page, fleet.gate)
    finally:
        gate.stop()
    monkeypatch.undo()

    # the gate is off (its clean shutdown says offline): a new config waits for it
    assert _wait(lambda: fleet.gate_row(fleet.gate).state == "offline")
    _push(page, {"door_open_ms": 6000})
    behind = page.wait_for_selector("#gate-panel .cfg-state[data-state=behind]", timeout=15_000)
    assert behind.text_content() == "behind: the gate is offline and runs v1; it gets v3 when it reconnects"
    page.wait_for_selector("#gate-panel .cfg-sent:text-is('v3 stored and sent to the gate')")
    # a property manager may not rotate credentials: no button, and the API refuses
    assert page.is_hidden("#gate-panel .cred-box")
    r = httpx.post(f"{fleet.url}/api/v1/gates/{fleet.gate}/credentials", headers=h)
    assert r.status_code == 403, r.text
    context.close()


def test_an_admin_rotates_a_gates_credentials_and_sees_them_once(fleet, browser):
    before = fleet.gate_row(fleet.gate).mqtt_password_hash
    context, page = _open(browser, fleet, "admin")
    # an admin sees every compound's gates
    shown = [r.get_attribute("data-gate") for r in page.query_selector_all("#device-rows tr")]
    assert fleet.gate in shown and fleet.other_gate in shown
    _manage(page, fleet.gate)
    page.click("#gate-panel .rotate")
    page.wait_for_selector("#gate-panel .rotate-confirm:visible")
    page.click("#gate-panel .rotate-no")  # asked once more; cancelling changes nothing
    assert fleet.gate_row(fleet.gate).mqtt_password_hash == before
    page.click("#gate-panel .rotate")
    page.click("#gate-panel .rotate-yes")
    page.wait_for_selector("#gate-panel .cred-password")
    password = page.text_content("#gate-panel .cred-password")
    assert page.text_content("#gate-panel .cred-user") == f"gate.{fleet.gate}"
    assert page.text_content("#gate-panel .cred-topic") == f"menwei/v1/{fleet.site}/{fleet.gate}"
    assert "Shown only now" in page.text_content("#gate-panel .cred-new .warn")
    shot(page, "admin-devices-credentials")
    after = fleet.gate_row(fleet.gate).mqtt_password_hash
    assert after != before and verify_password(password, after)
    assert before is None or not verify_password(password, before)  # the seeded gate had none at all
    # the broker's accounts, written from the database as in production; the gate's own link logs in
    broker, gport, sport = _gate_broker(fleet)
    try:
        assert _link_connects(fleet, gport, password), "the gate could not log in with the new password"
        # shown once: the page after a reload has no way to show it again
        page.reload()
        page.wait_for_selector("#device-rows tr[data-gate]")
        _manage(page, fleet.gate)
        assert password not in page.content()
        # a second rotation unseats the first password
        page.click("#gate-panel .rotate")
        page.click("#gate-panel .rotate-yes")
        page.wait_for_selector("#gate-panel .cred-password")
        second = page.text_content("#gate-panel .cred-password")
        latest = fleet.gate_row(fleet.gate).mqtt_password_hash
        assert second != password and verify_password(second, latest) and not verify_password(password, latest)
        # until the broker files are rewritten the old password still works; then it does not
        assert _login_ok(gport, fleet.gate, password)
        _broker_files(fleet, gport, sport)
        broker.reload()
        assert _wait(lambda: not _login_ok(gport, fleet.gate, password), 10), "the old password still logs in"
        assert _link_connects(fleet, gport, second)
    finally:
        broker.stop()
    context.close()

    from server.db.session import make_engine, session_factory

    engine = make_engine(fleet.db_url)
    with session_factory(engine)() as s:
        rotations = [a.username for a in s.query(AuditLog).filter(AuditLog.action == "rotate_credentials",
                                                                   AuditLog.object_id == fleet.gate)]
    engine.dispose()
    assert rotations == [fleet.users["admin"]] * 2


def test_a_guard_tells_the_alarms_apart_by_colour(fleet, browser):
    """The guard's gate screen (same server): each open alarm in its kind's colour, a door alarm
    named with what happened to the door."""
    from datetime import UTC, datetime

    from server.db.models import Alert, AlertKind
    from server.db.session import make_engine, session_factory

    kinds = {"fever": (AlertKind.FEVER, {}), "unknown": (AlertKind.UNKNOWN_PERSON, {}),
             "forced": (AlertKind.DOOR_ALARM, {"alarm": "forced_open"}),
             "held": (AlertKind.DOOR_ALARM, {"alarm": "held_open"}),
             "offline": (AlertKind.GATE_OFFLINE, {"status": {"state": "offline", "reason": "silent"}})}
    engine = make_engine(fleet.db_url)
    ids = {}
    with session_factory(engine)() as s:
        for name, (kind, detail) in kinds.items():
            a = Alert(kind=kind, site_id=fleet.site, gate_id=fleet.gate, created_at=datetime.now(UTC), detail=detail)
            s.add(a)
            s.flush()
            ids[name] = a.id
        s.commit()
    engine.dispose()
    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{fleet.url}/")
    page.fill("input[name=username]", fleet.users["guard"])
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    for alert_id in ids.values():
        page.wait_for_selector(f"#gate-alerts li[data-alert='{alert_id}']")

    def look(name):
        return page.eval_on_selector(f"#gate-alerts li[data-alert='{ids[name]}']",
                                     "li => [getComputedStyle(li).borderLeftColor, li.querySelector('.name').textContent]")

    expected = {"fever": ("rgb(123, 31, 162)", "fever"), "unknown": ("rgb(178, 106, 0)", "unknown person"),
                "forced": ("rgb(198, 40, 40)", "door alarm: door forced open"),
                "held": ("rgb(230, 81, 0)", "door alarm: door held open"),
                "offline": ("rgb(55, 71, 79)", "gate offline")}
    assert {name: tuple(look(name)) for name in ids} == expected
    shot(page, "guard-alarms-by-kind")
    context.close()
