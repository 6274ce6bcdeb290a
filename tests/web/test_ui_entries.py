"""The entry log's issue-13 parts in Debian's Chromium, against one `menwei server run` (SQLite,
its own broker) for the whole file; no gate agent runs: the entries arrive as a gate sends them
(MQTT, QoS 1, through the server's real ingest). Search by name, the gate's crops as thumbnails
(and their blob: URLs released on leaving), a resident's history, who is inside now, marking a
recognition as wrong (checked in the database and the audit log) and the dashboard's review
figures; a guard reads but cannot judge; another compound's officer sees none of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cv2
import httpx
import pytest
from sqlalchemy import select
from ui_kit import PASSWORD, seed_registry, shot, start_server, stop_server

from server.db.models import AuditLog, EntryReview

# counts the page's blob: URLs made and released, to check that leaving the page releases them
COUNT_BLOBS = """
window.__blobs = { made: 0, released: 0 };
const make = URL.createObjectURL.bind(URL), free = URL.revokeObjectURL.bind(URL);
URL.createObjectURL = (b) => { window.__blobs.made++; return make(b); };
URL.revokeObjectURL = (u) => { window.__blobs.released++; return free(u); };
"""


@dataclass
class World:
    site: str
    gate_in: str
    gate_out: str
    other: str
    url: str
    db_url: str
    users: dict[str, str]
    events: dict[str, str]  # what happened → event id

    def headers(self, role: str) -> dict[str, str]:
        r = httpx.post(f"{self.url}/api/v1/auth/token", data={"username": self.users[role], "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def sessions(self):
        from server.db.session import make_engine, session_factory

        return session_factory(make_engine(self.db_url))


def _crop(faces_dir, who: str) -> bytes:
    img = cv2.imread(str(sorted((faces_dir / "knn_examples" / "train" / who).iterdir())[0]))
    ok, buf = cv2.imencode(".jpg", cv2.resize(img, (96, 96)))
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def world(tmp_path_factory, faces_dir):
    from ingest_kit import GateSim, event, payload
    from ingest_kit import seed as seed_gates

    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.db.session import make_engine, session_factory

    uid = uuid.uuid4().hex[:10]
    tmp = tmp_path_factory.mktemp("entries-ui")
    site, gate, other = f"el{uid}", f"el{uid}-north", f"el{uid}-other"
    db_url = f"sqlite:///{tmp / 'server.db'}"
    users = seed_registry(db_url, site, gate, other, uid)
    users["officer_b"] = f"officer-b-{uid}"
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    seed_gates(sessions, site, {f"{gate}-exit": "out"})
    with sessions() as s:
        create_user(s, users["officer_b"], PASSWORD, Role.COMMUNITY_OFFICER, [other], rounds=4)
        s.commit()
    engine.dispose()
    proc, url, mqtt_url = start_server(tmp, db_url)
    w = World(site, gate, f"{gate}-exit", other, url, db_url, users, {})
    gin, gout = GateSim(mqtt_url, site, gate), GateSim(mqtt_url, site, w.gate_out)
    gx = GateSim(mqtt_url, other, f"{gate}-x")
    try:
        now = datetime.now(UTC)
        seqs = {gin: 0, gout: 0, gx: 0}

        def send(key, sim, minutes_ago, resident, direction="in", decision="granted", face=None):
            seqs[sim] += 1
            data = event(sim.site, sim.gate, seqs[sim], resident_id=resident, direction=direction, decision=decision,
                         at=now - timedelta(minutes=minutes_ago), face=face)
            data["reasons"] = ["resident_recognised"] if resident else ["unknown_face"]
            w.events[key] = data["event_id"]
            sim.publish(payload(data))

        send("obama_in", gin, 180, "obama", face=_crop(faces_dir, "obama"))
        send("biden_in", gin, 120, "biden", face=_crop(faces_dir, "biden"))
        send("biden_out", gout, 60, "biden", "out")
        send("kit_in", gin, 50, "kit_harington")
        send("kit_refused_out", gout, 40, "kit_harington", "out", "denied")  # the door stayed shut
        send("unknown", gin, 30, None, decision="alert", face=_crop(faces_dir, "rose_leslie"))
        send("secret_in", gx, 20, f"secret-{uid}")
        assert gin.wait_acked(4) == 4 and gout.wait_acked(2) == 2 and gx.wait_acked(1) == 1
        yield w
    finally:
        for sim in (gin, gout, gx):
            sim.close()
        stop_server(proc)


def _open(browser, world: World, role: str, route: str, **context):
    ctx = browser.new_context(**({"locale": "en-US", "timezone_id": "UTC", "viewport": {"width": 1400, "height": 1000}}
                                 | context))
    ctx.add_init_script(COUNT_BLOBS)
    page = ctx.new_page()
    # straight to the page after login (not through the gate screen, whose crops are not ours to count)
    page.goto(f"{world.url}/ui/#/{route}")
    page.fill("input[name=username]", world.users[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(f"#nav a.current[data-route={route}]")
    return ctx, page


def _row_events(page) -> list[str]:
    return page.eval_on_selector_all("#entry-rows tr", "rs => rs.map(r => r.dataset.event)")


def _wait_rows(page, n: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('#entry-rows tr').length === {n}")


def test_an_officer_searches_opens_a_history_sees_who_is_inside_and_marks_a_recognition_wrong(world, browser):
    ev = world.events
    ctx, page = _open(browser, world, "community_officer", "entries")
    _wait_rows(page, 6)  # her compound's six, never the other compound's
    assert _row_events(page) == [ev[k] for k in ("unknown", "kit_refused_out", "kit_in", "biden_out", "biden_in",
                                                 "obama_in")]
    # the crops the gate sent, decoded by the browser; rows without one keep an empty placeholder
    page.wait_for_function("() => [...document.querySelectorAll('#entry-rows img.log-face')]"
                           ".filter(i => i.src.startsWith('blob:') && i.naturalWidth === 96).length === 3")
    with_face = page.eval_on_selector_all("#entry-rows img.log-face[src^='blob:']", "is => is.map(i => i.dataset.face)")
    assert sorted(with_face) == sorted([ev["obama_in"], ev["biden_in"], ev["unknown"]])

    # who is inside: her one compound is picked; Obama entered, Kit was refused at the exit, Biden left
    page.wait_for_selector("#inside-rows tr")
    inside = page.eval_on_selector_all("#inside-rows tr", "rs => rs.map(r => r.dataset.resident)")
    assert inside == ["kit_harington", "obama"]  # newest arrival first
    assert "2 inside" in page.text_content("#inside-count")

    # search by name
    page.fill("#entry-filters input[name=name]", "bide")
    page.click("#entry-filters button[type=submit]")
    _wait_rows(page, 2)
    assert _row_events(page) == [ev["biden_out"], ev["biden_in"]]
    page.fill("#entry-filters input[name=name]", "nobody like this")
    page.click("#entry-filters button[type=submit]")
    _wait_rows(page, 0)
    assert page.text_content("#entry-count") == "no entries"

    # a resident's history from the "who is inside" list: the log filtered on her id
    page.click("#inside-rows tr[data-resident=kit_harington] button.history")
    _wait_rows(page, 2)
    assert _row_events(page) == [ev["kit_refused_out"], ev["kit_in"]]
    assert page.input_value("#entry-filters input[name=resident]") == "kit_harington"
    assert "History of Kit Harington" in page.text_content("#history-of")
    page.click("#history-of button")
    _wait_rows(page, 6)
    assert not page.is_visible("#history-of")
    # and from a name in the log
    page.click(f"#entry-rows tr[data-event='{ev['obama_in']}'] button.history")
    _wait_rows(page, 1)
    assert page.is_visible("#history-of") and "Obama" in page.text_content("#history-of")
    page.click("#history-of button")
    _wait_rows(page, 6)
    assert not page.is_visible("#history-of")

    # the unknown face was Rose: a resident the gate missed
    row = f"#entry-rows tr[data-event='{ev['unknown']}']"
    page.click(f"{row} button.mark-wrong")
    assert page.input_value(f"{row} select[name=kind]") == "missed_resident"  # the gate named nobody
    page.fill(f"{row} input[name=note]", "it was Rose, her hood up")
    page.click(f"{row} .review-form button[type=submit]")
    page.wait_for_selector(f"{row}.reviewed .review-mark")
    assert "missed resident" in page.text_content(f"{row} .review-mark")
    with world.sessions()() as s:
        rv = s.execute(select(EntryReview.kind, EntryReview.note, EntryReview.reviewed_by, EntryReview.gate_id)).all()
        assert rv == [("missed_resident", "it was Rose, her hood up", world.users["community_officer"], world.gate_in)]
        log = s.execute(select(AuditLog.object_id, AuditLog.detail).where(AuditLog.action == "review")).all()
        assert [(x.object_id, x.detail["kind"]) for x in log] == [(ev["unknown"], "missed_resident")]
        assert "Rose" not in str(log[0].detail)
    shot(page, "officer-entry-log-review")

    # leaving the page releases every crop's blob: URL
    assert page.evaluate("window.__blobs.made") >= 3
    page.click("#nav a[data-route=dashboard]")
    page.wait_for_selector("#dash-reviews tr")
    page.wait_for_timeout(1000)  # a crop still on its way when the page went must not be kept either
    blobs = page.evaluate("window.__blobs")
    assert blobs["released"] == blobs["made"], blobs

    # the dashboard's review figures: one missed resident at the north gate
    page.wait_for_selector(f"#dash-reviews tr[data-gate='{world.gate_in}']")
    cells = page.eval_on_selector_all(f"#dash-reviews tr[data-gate='{world.gate_in}'] td", "ts => ts.map(t => t.textContent)")
    assert cells == [world.gate_in, "0", "0", "1", "1"]
    shot(page, "officer-dashboard-reviews")
    ctx.close()


def test_a_guard_reads_the_review_but_cannot_judge(world, browser):
    ev = world.events
    officer = world.headers("community_officer")
    r = httpx.put(f"{world.url}/api/v1/entries/{ev['obama_in']}/review", headers=officer,
                  json={"kind": "wrong_person", "note": "his brother"})
    assert r.status_code == 200, r.text
    ctx, page = _open(browser, world, "guard", "entries", locale="zh-CN", timezone_id="Asia/Shanghai",
                      viewport={"width": 390, "height": 844})
    _wait_rows(page, 6)
    row = f"#entry-rows tr[data-event='{ev['obama_in']}']"
    assert "认错人" in page.text_content(f"{row} .review-mark")
    assert page.query_selector_all("#entry-rows button.mark-wrong") == []
    page.wait_for_selector("#inside-rows tr")
    shot(page, "guard-entry-log-phone-zh")
    guard = world.headers("guard")
    assert httpx.put(f"{world.url}/api/v1/entries/{ev['unknown']}/review", headers=guard,
                     json={"kind": "stranger"}).status_code == 403
    assert httpx.delete(f"{world.url}/api/v1/entries/{ev['obama_in']}/review", headers=guard).status_code == 403
    ctx.close()


def test_another_compounds_officer_sees_none_of_it(world, browser):
    ev = world.events
    ctx, page = _open(browser, world, "officer_b", "entries")
    _wait_rows(page, 1)
    assert _row_events(page) == [ev["secret_in"]]
    page.fill("#entry-filters input[name=name]", "Obama")
    page.click("#entry-filters button[type=submit]")
    _wait_rows(page, 0)
    page.wait_for_selector("#inside-rows tr")
    assert page.eval_on_selector_all("#inside-rows tr", "rs => rs.map(r => r.dataset.resident)") == [
        f"secret-{world.site.removeprefix('el')}"]
    h = world.headers("officer_b")
    assert httpx.put(f"{world.url}/api/v1/entries/{ev['unknown']}/review", headers=h,
                     json={"kind": "stranger"}).status_code == 404
    assert httpx.get(f"{world.url}/api/v1/sites/{world.site}/inside", headers=h).status_code == 404
    ctx.close()
