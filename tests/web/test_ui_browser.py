"""The web UI end to end in Debian's Chromium: `menwei server run` (SQLite, its own broker), a real
gate agent playing the demo walk-up in real time, and a guard, a community officer and a property
manager at their screens. Screenshots of each page go to test-artefacts/web/."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from ui_kit import (
    PASSWORD,
    Compound,
    RunningGate,
    enrol_residents,
    seed_registry,
    shot,
    start_server,
    stop_server,
)

from server.db.models import Alert, AuditLog, Entry, GateCommand


@pytest.fixture
def compound(tmp_path, uid, faces_dir):
    site, gate, other = f"ui{uid}", f"ui{uid}-north", f"ui{uid}-other"
    db_url = f"sqlite:///{tmp_path / 'server.db'}"
    users = seed_registry(db_url, site, gate, other, uid)
    proc, url, mqtt_url = start_server(tmp_path, db_url)
    c = Compound(site, gate, other, url, db_url, proc, mqtt_url, users)
    try:
        enrol_residents(url, users["community_officer"], faces_dir)
        yield c
    finally:
        stop_server(proc)


def _login(page, url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/")
    page.wait_for_selector("#login-form")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")


def _token(url: str, username: str) -> str:
    r = httpx.post(f"{url}/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_a_guard_sees_the_gate_live_opens_for_a_stranger_and_acknowledges_the_fever(
        compound, browser, tmp_path, faces_dir, face_engine):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # a wrong password is refused, and nothing of the compound shows
    _login(page, compound.url, compound.users["guard"], "wrong-password")
    page.wait_for_selector("#login-error:has-text('wrong user or password')")
    assert page.is_hidden("#nav")
    _login(page, compound.url, compound.users["guard"])
    page.wait_for_selector("#live-state:has-text('live')")
    # a guard's pages only: no registry, devices or dashboard in the menu
    assert page.eval_on_selector_all("#nav a", "els => els.map(a => a.dataset.route)") == ["gate", "entries", "alerts"]
    page.wait_for_selector(f".tile[data-gate='{compound.gate}']")

    gate = RunningGate(tmp_path, faces_dir, compound.site, compound.gate, compound.mqtt_url, face_engine).start()
    try:
        # residents arrive live, named from the registry, with the gate's face crop
        first = page.wait_for_selector("#decisions li.decision.granted", timeout=60_000)
        assert first.query_selector(".name").text_content() == "Alex Lacamoire"
        # the gate's crop and, beside it, the photo the office enrolled her from
        for kind in ("gate", "enrolled"):
            page.wait_for_function(f"() => {{ const i = document.querySelector('#decisions li img.face.{kind}');"
                                   " return i && i.complete && i.naturalWidth > 0; }", timeout=15_000)
        # the stranger lands in the queue; the guard opens remotely, which needs a reason
        stranger = page.wait_for_selector("#queue li.decision.alert", timeout=60_000)
        assert stranger.query_selector(".name").text_content() == "unknown person"
        stranger.query_selector("button.open-button").click()
        page.fill("#queue .open-form input[name=reason]", "delivery for building 2, checked by phone")
        page.click("#queue .open-form button[type=submit]")
        page.wait_for_selector(f"#queue p.ok:has-text('open sent to {compound.gate}')")
        # the gate opened and says so: its remote-open entry comes back through the server
        page.wait_for_selector("#decisions li .reasons:has-text('remote open')", timeout=30_000)
        # the fever is an alert to acknowledge
        fever = page.wait_for_selector("#gate-alerts li.alert-item.open:has-text('fever')", timeout=60_000)
        shot(page, "guard-gate-screen")
        fever.query_selector("input[name=note]").fill("sent to the clinic")
        fever.query_selector("button.ack").click()
        page.wait_for_selector("#gate-alerts li.alert-item.open:has-text('fever')", state="detached")
    finally:
        gate.stop()

    with compound.sessions()() as s:
        cmd = s.scalars(select(GateCommand).where(GateCommand.gate_id == compound.gate)).one()
        assert cmd.operator == compound.users["guard"] and cmd.reason.startswith("delivery for building 2")
        opened = s.scalars(select(Entry).where(Entry.gate_id == compound.gate)).all()
        assert any("remote_open" in (e.reasons or []) for e in opened)
        fever_alert = s.scalars(select(Alert).where(Alert.site_id == compound.site, Alert.kind == "fever")).one()
        assert fever_alert.acknowledged_by == compound.users["guard"]
        # what the live screen showed was audited as reads of the entry log
        live_reads = [a for a in s.scalars(select(AuditLog).where(AuditLog.action == "read")).all()
                      if (a.detail or {}).get("live")]
        assert live_reads and all(a.username == compound.users["guard"] for a in live_reads)
        # and each enrolment photo shown beside a gate's crop, as a read of that resident's photo
        photo_reads = s.scalars(select(AuditLog).where(AuditLog.object_type == "face_photo",
                                                       AuditLog.username == compound.users["guard"])).all()
        assert photo_reads and all((a.detail or {}).get("for_entry") for a in photo_reads)

    # the same screen in Chinese
    page.click("#lang")
    page.wait_for_selector("#nav a:has-text('门岗')")
    page.wait_for_selector("#decisions li .verdict:has-text('通过')")  # the decisions so far, again
    assert page.text_content("h2 span[data-i18n=live]") == "实时通行"
    shot(page, "guard-gate-screen-zh")

    # the API refuses what the menu hides: a guard cannot read the registry
    token = _token(compound.url, compound.users["guard"])
    r = httpx.get(f"{compound.url}/api/v1/residents", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    context.close()


def test_an_officer_filters_the_log_and_sees_only_her_compound(compound, browser, uid):
    from ingest_kit import GateSim, event, payload

    # two alerts and a granted entry in her compound, one in the other compound
    sim = GateSim(compound.mqtt_url, compound.site, compound.gate)
    other = GateSim(compound.mqtt_url, compound.other_site, f"{compound.gate}-x")
    try:
        now = datetime.now(UTC)

        def ev(gate_sim, seq, reasons, **kw):
            data = event(gate_sim.site, gate_sim.gate, seq, at=now, **kw)
            data["reasons"] = reasons  # the gate's real reason codes (menwei.wire.Reason)
            gate_sim.publish(payload(data))

        ev(sim, 1, ["resident_recognised", "liveness_not_checked"], resident_id="obama")
        ev(sim, 2, ["unknown_face", "liveness_not_checked"], resident_id=None, decision="alert")
        ev(sim, 3, ["resident_recognised", "liveness_not_checked", "fever"], resident_id="biden", decision="alert",
           celsius=38.4, temp_status="fever")
        ev(other, 1, ["resident_recognised", "liveness_not_checked"], resident_id=f"secret-{uid}")
        assert sim.wait_acked(3) == 3 and other.wait_acked(1) == 1
    finally:
        sim.close()
        other.close()

    # a phone, in Chinese, in the compound's time zone
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844})
    page = context.new_page()
    _login(page, compound.url, compound.users["community_officer"])
    page.wait_for_selector("#nav a:has-text('通行记录')")
    page.click("#nav a[data-route=entries]")
    page.wait_for_selector("#entry-rows tr")
    rows = page.query_selector_all("#entry-rows tr")
    assert len(rows) == 3  # never the other compound's entry
    assert "Other Compound Resident" not in page.text_content("#entry-rows")
    page.select_option("#entry-filters select[name=decision]", "alert")
    page.click("#entry-filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#entry-rows tr').length === 2")
    assert {r.get_attribute("class") for r in page.query_selector_all("#entry-rows tr")} == {"alert"}
    assert "发热" in page.text_content("#entry-rows")  # the fever's reason code in her language
    assert page.is_visible("#export")  # an officer may export
    shot(page, "officer-entry-log-phone-zh")

    # the dashboard counts today's entries of her compound only
    page.click("#nav a[data-route=dashboard]")
    page.wait_for_selector("#dash-totals [data-figure=entries] strong:text-is('3')")
    figures = {k: page.text_content(f"#dash-totals [data-figure={k}] strong")
               for k in ("entries", "granted", "alert", "fevers", "unknown_faces")}
    assert figures == {"entries": "3", "granted": "1", "alert": "2", "fevers": "1", "unknown_faces": "1"}
    assert [r.get_attribute("data-gate") for r in page.query_selector_all("#dash-gates tr")] == [compound.gate]
    shot(page, "officer-dashboard-phone-zh")
    context.close()


def test_a_property_manager_sees_her_gates_but_no_people(compound, browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _login(page, compound.url, compound.users["property_manager"])
    page.wait_for_selector("#nav a[data-route=devices]")
    # a property company sees figures and devices, not people
    assert page.eval_on_selector_all("#nav a", "els => els.map(a => a.dataset.route)") == ["dashboard", "devices"]
    page.click("#nav a[data-route=devices]")
    page.wait_for_selector("#device-rows tr")
    rows = page.query_selector_all("#device-rows tr")
    assert [r.get_attribute("data-gate") for r in rows] == [compound.gate]  # not the other compound's gate
    assert rows[0].query_selector("td.state").text_content() == "unknown"  # this gate never connected
    shot(page, "property-manager-devices")
    token = _token(compound.url, compound.users["property_manager"])
    r = httpx.get(f"{compound.url}/api/v1/live/entries", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 403
    r = httpx.get(f"{compound.url}/api/v1/live/entries", headers={"Authorization": "Bearer not-a-token"}, timeout=5)
    assert r.status_code == 401
    context.close()


def test_the_live_stream_resumes_after_a_reconnect_without_gaps(compound):
    from ingest_kit import GateSim, event, payload

    token = _token(compound.url, compound.users["guard"])
    headers = {"Authorization": f"Bearer {token}"}
    sim = GateSim(compound.mqtt_url, compound.site, compound.gate)
    seen: list[dict] = []
    try:
        with httpx.stream("GET", f"{compound.url}/api/v1/live/entries", headers=headers, timeout=30) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            assert next(lines) == "event: ready"
            sim.publish(payload(event(compound.site, compound.gate, 1, resident_id="obama")))
            last_id = _read_entries(lines, seen, 1)
        # entries committed while nobody listened come first after a reconnect
        for seq in (2, 3):
            sim.publish(payload(event(compound.site, compound.gate, seq, resident_id="biden")))
        assert sim.wait_acked(3) == 3
        with httpx.stream("GET", f"{compound.url}/api/v1/live/entries",
                          headers={**headers, "Last-Event-ID": str(last_id)}, timeout=30) as r:
            _read_entries(r.iter_lines(), seen, 2)
    finally:
        sim.close()
    assert [e["seq"] for e in seen] == [1, 2, 3]
    assert [e["resident_name"] for e in seen] == ["Obama", "Biden", "Biden"]


def _read_entries(lines, seen: list, n: int) -> int:
    import json

    deadline = time.monotonic() + 20
    got, last = 0, None
    for line in lines:
        if line.startswith("id: "):
            last = int(line[4:])
        if line.startswith("data: ") and '"event_id"' in line:
            seen.append(json.loads(line[6:]))
            got += 1
            if got == n:
                return last
        assert time.monotonic() < deadline, "no entry within 20 s"
    raise AssertionError("stream ended")


def test_the_server_stops_promptly_while_a_guard_screen_is_live(compound):
    """uvicorn waits for open connections before it stops; a live screen never closes its own."""
    token = _token(compound.url, compound.users["guard"])
    with httpx.stream("GET", f"{compound.url}/api/v1/live/entries",
                      headers={"Authorization": f"Bearer {token}"}, timeout=30) as r:
        assert next(r.iter_lines()) == "event: ready"
        t0 = time.monotonic()
        compound.proc.terminate()
        assert compound.proc.wait(20) == 0
        assert time.monotonic() - t0 < 10


def test_an_officer_locks_the_compound_down_and_the_guard_sees_a_visitor_refused(
        compound, browser, tmp_path, faces_dir, face_engine):
    from tests.agent.pass_kit import write_pass_video

    officer_ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport={"width": 1280, "height": 900})
    officer = officer_ctx.new_page()
    _login(officer, compound.url, compound.users["community_officer"])
    officer.click("#nav a[data-route=dashboard]")
    officer.wait_for_selector("#level-form:not([hidden])")
    officer.select_option("#level-form select[name=level]", "lockdown")
    officer.fill("#level-form input[name=reason]", "区疫情防控指挥部通知：3 号楼出现病例")
    officer.click("#level-form button[type=submit]")
    officer.wait_for_selector("#level-now:has-text('封闭管理')")
    shot(officer, "officer-sets-lockdown-zh")
    officer_ctx.close()

    guard_ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    guard = guard_ctx.new_page()
    _login(guard, compound.url, compound.users["guard"])
    guard.wait_for_selector(f".level.lockdown[data-site='{compound.site}']:has-text('residents only')")

    # a visitor pass the office issued yesterday, for a resident: valid, but the compound is locked
    token = _token(compound.url, compound.users["community_officer"])
    headers = {"Authorization": f"Bearer {token}"}
    now = datetime.now(UTC)
    r = httpx.post(f"{compound.url}/api/v1/sites/{compound.site}/passes", headers=headers,
                   json={"host_resident_id": "obama", "valid_from": (now - timedelta(hours=20)).isoformat(),
                         "valid_until": (now + timedelta(hours=4)).isoformat()})
    assert r.status_code == 201, r.text
    public_key = httpx.get(f"{compound.url}/api/v1/passes/public-key", headers=headers).json()["public_key"]
    video = write_pass_video(tmp_path / "visitor.avi", {r.json()["token"]: (3.0, 5.0)}, seconds=7.0)
    gate = RunningGate(tmp_path, faces_dir, compound.site, compound.gate, compound.mqtt_url, face_engine,
                       video=video, passes={"public_key": public_key}, thermal={"sensor": "none"}).start()
    try:
        refused = guard.wait_for_selector("#decisions li.decision.denied:has-text('pass refused: lockdown')",
                                          timeout=60_000)
        assert refused.query_selector(".name").text_content() == "visitor of Obama"  # the host's name
        shot(guard, "guard-lockdown-visitor-refused")
    finally:
        gate.stop()
    assert not any(a.cause == "visitor_pass" for a in gate.agent.door.actuations)  # the door stayed shut
    with compound.sessions()() as s:
        (entry,) = s.scalars(select(Entry).where(Entry.gate_id == compound.gate)).all()
        assert (entry.decision, entry.reasons, entry.pass_refused) == ("denied", ["pass_lockdown"], "lockdown")
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "set_control_level")).one()
        assert audit.username == compound.users["community_officer"] and audit.detail["to"] == "lockdown"
    guard_ctx.close()


def test_a_disabled_account_loses_its_live_stream_at_once(compound):
    """The stream asks who the caller is on every poll, as every request does: disabling the
    account ends it within a poll, not when the token expires hours later."""
    from server.db.models import User

    token = _token(compound.url, compound.users["guard"])
    with httpx.stream("GET", f"{compound.url}/api/v1/live/entries",
                      headers={"Authorization": f"Bearer {token}"}, timeout=30) as r:
        lines = r.iter_lines()
        assert next(lines) == "event: ready"
        with compound.sessions().begin() as s:
            s.scalars(select(User).where(User.username == compound.users["guard"])).one().active = False
        t0 = time.monotonic()
        for line in lines:
            if line == "event: expired":
                break
            assert time.monotonic() - t0 < 10, "still streaming to a disabled account"


def test_the_enrolled_photo_is_shown_only_for_a_resident_in_scope(compound, uid):
    """A guard sees the enrolment photo of the resident her gate named, never one of another
    compound's residents (even on an entry she may read), and not for a stranger's entry."""
    from ingest_kit import GateSim, event, payload

    sim = GateSim(compound.mqtt_url, compound.site, compound.gate)
    try:
        known = event(compound.site, compound.gate, 1, resident_id="obama")
        outsider = event(compound.site, compound.gate, 2, resident_id=f"secret-{uid}")  # a district re-match
        stranger = event(compound.site, compound.gate, 3, resident_id=None, decision="alert")
        for ev in (known, outsider, stranger):
            sim.publish(payload(ev))
        assert sim.wait_acked(3) == 3
    finally:
        sim.close()
    headers = {"Authorization": f"Bearer {_token(compound.url, compound.users['guard'])}"}
    url = f"{compound.url}/api/v1/entries/{{}}/enrolled-face"
    r = httpx.get(url.format(known["event_id"]), headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    assert httpx.get(url.format(outsider["event_id"]), headers=headers).status_code == 404
    assert httpx.get(url.format(stranger["event_id"]), headers=headers).status_code == 404
