"""The community office's pages in Debian's Chromium: the registry (browse, add a resident, photos
refused or enrolled, status changes), the bulk import's per-row report, visitor passes (QR, print,
revoke) and the admins' audit log — against one `menwei server run` (SQLite, its own broker) for
the whole file; no gate runs. What the page shows is checked against the database and, for a
pass, against what the pass verification accepts."""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from sqlalchemy import select
from ui_kit import PASSWORD, seed_registry, shot, start_server, stop_server

from server.db.models import AuditLog, FacePhoto, Resident, ResidentStatus, VisitorPass

BUILDING, UNIT, HOUSEHOLD = "1号楼", "2单元", "301"


@dataclass
class World:
    uid: str
    site: str
    gate: str
    other: str
    url: str
    db_url: str
    users: dict[str, str]
    household_id: int
    tmp: Path
    _sessions: object = field(default=None, repr=False)

    def sessions(self):
        if self._sessions is None:
            from server.db.session import make_engine, session_factory

            self._sessions = session_factory(make_engine(self.db_url))
        return self._sessions

    def headers(self, role: str) -> dict[str, str]:
        r = httpx.post(f"{self.url}/api/v1/auth/token", data={"username": self.users[role], "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.db.session import make_engine, session_factory

    uid = uuid.uuid4().hex[:10]
    tmp = tmp_path_factory.mktemp("registry-ui")
    site, gate, other = f"rg{uid}", f"rg{uid}-north", f"rg{uid}-other"
    db_url = f"sqlite:///{tmp / 'server.db'}"
    users = seed_registry(db_url, site, gate, other, uid)
    users |= {"admin": f"admin-{uid}", "officer_b": f"officer-b-{uid}"}
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        create_user(s, users["admin"], PASSWORD, Role.ADMIN, [], rounds=4)
        create_user(s, users["officer_b"], PASSWORD, Role.COMMUNITY_OFFICER, [other], rounds=4)
        s.commit()
    engine.dispose()
    proc, url, _ = start_server(tmp, db_url)
    try:
        w = World(uid, site, gate, other, url, db_url, users, 0, tmp)
        h = w.headers("community_officer")
        # the compound's structure, as the office set it up (the import does not create buildings)
        b = httpx.post(f"{url}/api/v1/sites/{site}/buildings", headers=h, json={"name": BUILDING}).json()
        u = httpx.post(f"{url}/api/v1/buildings/{b['id']}/units", headers=h, json={"name": UNIT}).json()
        w.household_id = httpx.post(f"{url}/api/v1/units/{u['id']}/households", headers=h,
                                    json={"name": HOUSEHOLD}).json()["id"]
        httpx.post(f"{url}/api/v1/buildings/{b['id']}/units", headers=h, json={"name": "3单元"})
        yield w
    finally:
        stop_server(proc)


def _open(browser, world: World, role: str, route: str):
    """A logged-in tab of `role` on `route` (UTC, so datetime-local inputs are UTC)."""
    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{world.url}/")
    page.fill("input[name=username]", world.users[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#nav a")
    if route:
        page.click(f"#nav a[data-route={route}]")
    return context, page


def _to_chinese(page) -> None:
    page.click("#lang")
    page.wait_for_selector("#nav a:has-text('住户登记')")


def _js(x: float) -> str:
    """A number as the page writes it (JSON 123.0 is JavaScript's 123)."""
    return str(int(x)) if float(x).is_integer() else str(x)


def _photos(world: World, resident_id: str) -> list[FacePhoto]:
    with world.sessions()() as s:
        return s.scalars(select(FacePhoto).where(FacePhoto.resident_id == resident_id)).all()


def test_an_officer_adds_a_resident_and_sees_why_a_photo_is_refused_or_how_good_it_is(world, browser, faces_dir):
    no_face = world.tmp / "garden.png"  # a picture with no face in it: a gradient and some shapes
    img = np.tile(np.linspace(40, 220, 640, dtype=np.uint8), (480, 1))
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    cv2.rectangle(img, (100, 100), (300, 250), (30, 120, 30), -1)
    cv2.imwrite(str(no_face), img)
    corrupt = world.tmp / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8)  # a JPEG cut short
    huge = world.tmp / "huge.jpg"
    huge.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * (10 * 1024 * 1024 + 10))  # over max_photo_bytes (10 MiB)
    good = faces_dir / "knn_examples" / "train" / "biden" / "biden2.jpg"

    context, page = _open(browser, world, "community_officer", "registry")
    # browse the compound down to a household, and add a resident in home quarantine there
    page.click(f"#reg-buildings button:text-is('{BUILDING}')")
    page.click(f"#reg-units button:text-is('{UNIT}')")
    page.click(f"#reg-households button:has-text('{HOUSEHOLD}')")
    page.wait_for_selector(f"#reg-add-household:has-text('{BUILDING} / {UNIT} / {HOUSEHOLD}')")
    # an id that is taken: one line saying so, nothing written
    page.fill("#reg-add input[name=id]", "obama")
    page.fill("#reg-add input[name=name]", "Someone Else")
    page.click("#reg-add button[type=submit]")
    page.wait_for_selector("#reg-add .error:text-is('error: resident id obama is already taken')")
    rid = f"new-{world.uid}"
    until = (datetime.now(UTC) + timedelta(days=14)).replace(second=0, microsecond=0)
    page.fill("#reg-add input[name=id]", rid)
    page.fill("#reg-add input[name=name]", "王小明")
    page.select_option("#reg-add select[name=status]", "quarantine")
    page.fill("#reg-add input[name=valid_until]", until.strftime("%Y-%m-%dT%H:%M"))
    page.set_input_files("#reg-add input[name=photo]", str(no_face))
    page.click("#reg-add button[type=submit]")
    refused = page.wait_for_selector("#reg-photo-result li.enrol.refused", timeout=60_000)
    assert refused.get_attribute("data-code") == "no_face"
    assert "refused:" in refused.text_content() and "no face found" in refused.text_content()
    assert page.text_content("#reg-status") == f"home quarantine (until {page.evaluate('d => fmtTime(d)', until.isoformat())})"
    with world.sessions()() as s:
        r = s.get(Resident, rid)
        assert (r.name, r.site_id, r.household_id, r.status) == ("王小明", world.site, world.household_id,
                                                                ResidentStatus.QUARANTINE)
        assert r.quarantine_until.replace(tzinfo=UTC) == until
    assert _photos(world, rid) == []  # nothing enrolled
    page.wait_for_selector(f"#reg-households button.current:text-is('{HOUSEHOLD} (1)')")  # she counts now
    shot(page, "officer-registry-photo-refused")

    # a corrupt file and one over the size limit: each refused with its reason, still nothing enrolled
    for path, code, words in ((corrupt, "unreadable_image", "not a readable image"),
                              (huge, "unreadable_image", "larger than")):
        page.set_input_files("#reg-photo-form input[name=photo]", str(path))
        page.click("#reg-photo-form button[type=submit]")
        refused = page.wait_for_selector(f"#reg-photo-result li.enrol.refused:has-text('{path.name}')", timeout=60_000)
        assert refused.get_attribute("data-code") == code and words in refused.text_content()
        assert _photos(world, rid) == []
    assert page.text_content("#reg-photos") == "no photo enrolled: the gates cannot recognise this person"

    # a real photograph: face found, its quality shown as the server measured and stored it
    page.set_input_files("#reg-photo-form input[name=photo]", str(good))
    page.click("#reg-photo-form button[type=submit]")
    ok = page.wait_for_selector("#reg-photo-result li.enrol.ok", timeout=60_000)
    (photo,) = [p for p in _photos(world, rid) if p.crop_jpeg]
    assert photo.dim > 0 and len(photo.embedding) == 4 * photo.dim and photo.source_name == good.name
    q = photo.quality
    assert f"face {_js(q['face_px'])} px · sharpness {_js(q['sharpness'])}" in ok.query_selector(".quality").text_content()
    # its thumbnail, fetched with the token: the stored crop itself
    page.wait_for_function("() => { const i = document.querySelector('#reg-photos img.thumb');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    assert page.get_attribute("#reg-photos img.thumb", "data-photo") == str(photo.id)
    size = page.evaluate("() => { const i = document.querySelector('#reg-photos img.thumb');"
                         " return [i.naturalWidth, i.naturalHeight]; }")
    crop = cv2.imdecode(np.frombuffer(photo.crop_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert size == [crop.shape[1], crop.shape[0]]
    page.wait_for_selector(f"#reg-resident-rows tr[data-resident='{rid}'] td:nth-child(5):text-is('1')")
    shot(page, "officer-registry-resident")

    # she moves out: the status changes, the dates go
    page.select_option("#reg-status-form select[name=status]", "moved_out")
    page.fill("#reg-status-form input[name=valid_until]", "")
    page.click("#reg-status-form button[type=submit]")
    page.wait_for_selector("#reg-status:text-is('moved out')")
    with world.sessions()() as s:
        r = s.get(Resident, rid)
        assert r.status == ResidentStatus.MOVED_OUT and r.valid_until is None

    _to_chinese(page)
    page.click(f"#reg-resident-rows tr[data-resident='{rid}']")
    page.wait_for_selector("#reg-status:text-is('已迁出')")
    page.wait_for_function("() => { const i = document.querySelector('#reg-photos img.thumb');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    shot(page, "officer-registry-resident-zh")
    context.close()


def test_an_import_with_broken_rows_names_each_and_keeps_the_others(world, browser, faces_dir):
    u = world.uid
    csv = ("resident_id,name,building,unit,household,status,valid_from,valid_until,phone\n"
           f"imp1-{u},李娜,{BUILDING},{UNIT},302,resident,,,\n"
           f"imp2-{u},张伟,{BUILDING},{UNIT},302,居家隔离,,2030-12-31,\n"
           f"imp3-{u},赵六,{BUILDING},{UNIT},303,astronaut,,,\n"  # line 4: no such status
           f"imp4-{u},钱七,9号楼,1单元,101,resident,,,\n"  # line 5: no building 9
           f"obama,Barack Obama,{BUILDING},{UNIT},{HOUSEHOLD},resident,,,13800000000\n")
    (world.tmp / "residents.csv").write_text(csv, encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(faces_dir / "knn_examples" / "train" / "rose_leslie" / "img1.jpg", f"photos/imp1-{u}.jpg")
    (world.tmp / "photos.zip").write_bytes(buf.getvalue())

    context, page = _open(browser, world, "community_officer", "registry")
    page.wait_for_selector("#reg-import input[name=csv]")
    page.set_input_files("#reg-import input[name=csv]", str(world.tmp / "residents.csv"))
    page.set_input_files("#reg-import input[name=photos]", str(world.tmp / "photos.zip"))
    page.click("#reg-import button[type=submit]")
    page.wait_for_selector("#reg-import-rows tr", timeout=90_000)
    report = {int(tr.get_attribute("data-line")): [td.text_content() for td in tr.query_selector_all("td")]
              for tr in page.query_selector_all("#reg-import-rows tr")}
    assert sorted(report) == [2, 3, 4, 5, 6]
    assert report[2][1:4] == [f"imp1-{u}", "created", "saved, photo enrolled"]
    assert report[3][1:4] == [f"imp2-{u}", "created", "saved, no photo"]
    assert report[4][1:4] == [f"imp3-{u}", "refused", "invalid row"] and "unknown status 'astronaut'" in report[4][4]
    assert report[5][1:4] == [f"imp4-{u}", "refused", "unknown building or unit"] and "9号楼" in report[5][4]
    assert report[6][1:4] == ["obama", "updated", "saved, no photo"]
    assert page.text_content("#reg-import-summary") == "3 of 5 rows kept, 2 refused"
    with world.sessions()() as s:
        assert s.get(Resident, f"imp3-{u}") is None and s.get(Resident, f"imp4-{u}") is None
        kept = {rid: s.get(Resident, rid) for rid in (f"imp1-{u}", f"imp2-{u}", "obama")}
        assert all(r is not None and r.site_id == world.site for r in kept.values())
        assert kept[f"imp2-{u}"].status == ResidentStatus.QUARANTINE
        assert kept[f"imp2-{u}"].quarantine_until.replace(tzinfo=UTC) == datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)
        assert kept["obama"].name == "Barack Obama" and kept["obama"].household_id == world.household_id
    assert len([p for p in _photos(world, f"imp1-{u}") if p.crop_jpeg]) == 1
    # the list shows the new residents once the import is done
    page.wait_for_selector(f"#reg-resident-rows tr[data-resident='imp1-{u}']")
    page.locator("#reg-import-box").scroll_into_view_if_needed()
    shot(page, "officer-registry-import")

    # in Chinese, the same file again: the kept rows are updates now, the broken ones still named
    _to_chinese(page)
    page.set_input_files("#reg-import input[name=csv]", str(world.tmp / "residents.csv"))
    page.click("#reg-import button[type=submit]")
    page.wait_for_selector("#reg-import-rows tr[data-line='4']", timeout=90_000)
    again = {int(tr.get_attribute("data-line")): tr.query_selector("td.outcome").text_content()
             for tr in page.query_selector_all("#reg-import-rows tr")}
    assert again == {2: "更新", 3: "更新", 4: "未导入", 5: "未导入", 6: "更新"}
    assert page.text_content("#reg-import-rows tr[data-line='5'] td.result") == "楼栋或单元不存在"
    shot(page, "officer-registry-import-zh")
    context.close()


def test_a_visitor_pass_is_issued_as_a_valid_qr_printed_and_revoked(world, browser):
    from edge.vision.qr import QrReader
    from menwei.passes import verify_pass

    # last week's pass, over since yesterday (the API issues none in the past: written as it stored one)
    old = uuid.uuid4()
    with world.sessions().begin() as s:
        now = datetime.now(UTC)
        s.add(VisitorPass(id=old, site_id=world.site, host_resident_id="biden", gates=[], note="plumber",
                          valid_from=now - timedelta(days=7), valid_until=now - timedelta(days=1),
                          created_by=world.users["community_officer"], created_at=now - timedelta(days=7)))
    context, page = _open(browser, world, "community_officer", "passes")
    page.wait_for_selector(f"#pass-rows tr[data-pass='{old}'].expired td.state:text-is('expired')")
    assert page.query_selector(f"#pass-rows tr[data-pass='{old}'] button.revoke") is None  # nothing to revoke
    page.wait_for_selector("#pass-hosts option[value=obama]", state="attached")
    page.fill("#pass-form input[name=host]", "obama")
    page.fill("#pass-form input[name=visitor]", "刘先生（快递）")
    # a window that ends before it starts: the API's one line, no pass
    start = page.input_value("#pass-form input[name=valid_from]")
    page.fill("#pass-form input[name=valid_until]", start)
    page.click("#pass-form button[type=submit]")
    page.wait_for_selector("#pass-error:has-text('valid_until must be after valid_from')")
    assert page.is_hidden("#pass-card")
    with world.sessions()() as s:
        assert s.scalars(select(VisitorPass.id).where(VisitorPass.site_id == world.site)).all() == [old]
    page.fill("#pass-form input[name=valid_until]",
              (datetime.fromisoformat(start) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#pass-form button[type=submit]")
    page.wait_for_selector("#pass-card:not([hidden]) #pass-qr")
    page.wait_for_function("() => document.querySelector('#pass-qr').naturalWidth > 0")
    # the QR the page shows, decoded as a gate's camera would: a pass the verification accepts
    src = page.get_attribute("#pass-qr", "src")
    assert src.startswith("data:image/png;base64,")
    image = cv2.imdecode(np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8), cv2.IMREAD_GRAYSCALE)
    # read with the gate's own reader (OpenCV's ArUco QR detector, then the classic one: the classic
    # alone misses ~1 in 10 clean renders of pass codes, see edge/vision/qr.py)
    (token,) = QrReader().read(image)
    h = world.headers("community_officer")
    public_key = base64.b64decode(httpx.get(f"{world.url}/api/v1/passes/public-key", headers=h).json()["public_key"])
    claims = verify_pass(token, public_key, site_id=world.site, gate_id=world.gate)
    assert claims.host_resident_id == "obama"
    with world.sessions()() as s:
        row = s.get(VisitorPass, claims.pass_id)
        assert row.site_id == world.site and row.note == "刘先生（快递）" and row.revoked_at is None
        assert row.created_by == world.users["community_officer"]
    assert page.text_content("#pass-visitor") == "刘先生（快递）"
    assert page.text_content("#pass-host").endswith("(obama)")
    assert page.text_content("#pass-validity") == (
        page.evaluate("([a, b]) => `${fmtTime(a)} – ${fmtTime(b)}`",
                      [row.valid_from.replace(tzinfo=UTC).isoformat(), row.valid_until.replace(tzinfo=UTC).isoformat()]))
    shot(page, "officer-visitor-pass")

    # printed: only the pass (QR, visitor, host, validity), none of the page around it
    page.emulate_media(media="print")
    assert page.is_hidden("header") and page.is_hidden("#pass-form") and page.is_hidden("#pass-list")
    assert page.is_hidden("#pass-print")
    assert all(page.is_visible(sel) for sel in ("#pass-qr", "#pass-visitor", "#pass-host", "#pass-validity"))
    shot(page, "officer-visitor-pass-print")
    page.emulate_media(media="screen")

    row_sel = f"#pass-rows tr[data-pass='{claims.pass_id}']"
    page.wait_for_selector(f"{row_sel}.valid td.state:text-is('valid')")
    page.click(f"{row_sel} button.revoke")
    page.wait_for_selector(f"{row_sel}:has-text('Revoke this pass?')")
    with world.sessions()() as s:
        assert s.get(VisitorPass, claims.pass_id).revoked_at is None  # not before she confirms
    page.click(f"{row_sel} button.revoke-yes")
    page.wait_for_selector(f"{row_sel}.revoked td.state:has-text('revoked')")
    with world.sessions()() as s:
        row = s.get(VisitorPass, claims.pass_id)
        assert row.revoked_at is not None and row.revoked_by == world.users["community_officer"]
    assert page.query_selector(f"{row_sel} button.revoke") is None
    shot(page, "officer-visitor-passes")
    _to_chinese(page)
    page.wait_for_selector(f"{row_sel} td.state:has-text('已撤销')")
    shot(page, "officer-visitor-passes-zh")
    page.fill("#pass-form input[name=host]", "obama")
    page.click("#pass-form button[type=submit]")
    page.wait_for_selector("#pass-card:not([hidden]) #pass-qr")
    shot(page, "officer-visitor-pass-zh")
    context.close()


def test_a_guard_reaches_no_registry_page_nor_api_and_an_officer_sees_only_her_compound(world, browser):
    context, page = _open(browser, world, "guard", None)
    assert page.eval_on_selector_all("#nav a", "els => els.map(a => a.dataset.route)") == ["gate", "entries", "alerts"]
    for route in ("registry", "passes", "audit"):
        page.click("#nav a[data-route=entries]")
        page.wait_for_selector("#entry-filters")
        page.evaluate(f"location.hash = '#/{route}'")
        # the route ran (the entry log is gone) and fell back to her first page, not the registry's
        page.wait_for_selector("#entry-filters", state="detached")
        page.wait_for_selector("#nav a.current[data-route=gate]")
        assert page.query_selector("#reg-browse, #pass-form, #audit-filters") is None
    context.close()
    h = world.headers("guard")
    for method, path in (("GET", "/residents"), ("GET", "/residents/obama"), ("GET", f"/sites/{world.site}/buildings"),
                         ("GET", f"/sites/{world.site}/passes"), ("POST", f"/sites/{world.site}/passes"),
                         ("GET", "/audit"), ("POST", f"/sites/{world.site}/imports")):
        r = httpx.request(method, f"{world.url}/api/v1{path}", headers=h)
        assert r.status_code == 403, (method, path, r.status_code)

    # the other compound's officer: her compound only, in the page and in the API
    context, page = _open(browser, world, "officer_b", "registry")
    page.wait_for_selector(f"#reg-resident-rows tr[data-resident='secret-{world.uid}']")
    assert page.eval_on_selector_all(".reg-site option", "os => os.map(o => o.value)") == [world.other]
    assert page.eval_on_selector_all("#reg-resident-rows tr", "rs => rs.map(r => r.dataset.resident)") == [
        f"secret-{world.uid}"]
    context.close()
    hb = world.headers("officer_b")
    assert httpx.get(f"{world.url}/api/v1/residents/obama", headers=hb).status_code == 404
    assert httpx.get(f"{world.url}/api/v1/residents?site={world.site}", headers=hb).status_code == 404
    assert httpx.get(f"{world.url}/api/v1/sites/{world.site}/passes", headers=hb).status_code == 404
    # and compound A's officer never sees B's resident
    context, page = _open(browser, world, "community_officer", "registry")
    page.wait_for_selector("#reg-resident-rows tr[data-resident=obama]")
    assert page.eval_on_selector_all(".reg-site option", "os => os.map(o => o.value)") == [world.site]
    assert page.query_selector(f"#reg-resident-rows tr[data-resident='secret-{world.uid}']") is None
    assert "Other Compound Resident" not in page.text_content("#reg-resident-rows")
    with world.sessions()() as s:
        n = len(s.scalars(select(Resident.id).where(Resident.site_id == world.site)).all())
    assert page.text_content("#reg-count") == f"{n} of {n} shown" and page.is_hidden("#reg-more")
    context.close()


def test_an_admin_reads_in_the_audit_log_who_read_which_personal_data(world, browser):
    officer = world.users["community_officer"]
    h = world.headers("community_officer")
    assert httpx.get(f"{world.url}/api/v1/residents/biden", headers=h).status_code == 200
    assert httpx.get(f"{world.url}/api/v1/residents/biden/photos", headers=h).status_code == 200

    context, page = _open(browser, world, "admin", "audit")
    page.wait_for_selector("#audit-rows[data-loaded]")
    assert "audit" in page.eval_on_selector_all("#nav a", "els => els.map(a => a.dataset.route)")
    page.fill("#audit-filters input[name=user]", officer)
    page.check("#audit-filters input[name=reads]")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_selector("#audit-rows[data-loaded*='action=read']")
    shown = [int(x) for x in page.eval_on_selector_all("#audit-rows tr", "rs => rs.map(r => r.dataset.audit)")]
    with world.sessions()() as s:
        expected = s.scalars(select(AuditLog.id).where(AuditLog.username == officer, AuditLog.action == "read",
                                                       AuditLog.id <= shown[0])
                             .order_by(AuditLog.id.desc()).limit(50)).all()
        biden = s.scalars(select(AuditLog).where(AuditLog.username == officer, AuditLog.object_type == "resident",
                                                 AuditLog.object_id == "biden")).one()
    assert shown == expected
    assert page.text_content(f"#audit-rows tr[data-audit='{biden.id}'] td:nth-child(4)") == "resident biden"
    # the photo list she read names whose photos they were
    assert page.locator("#audit-rows tr:has-text('face_photo'):has-text('resident_id=biden')").count() >= 1
    # from the minute of her read of biden on: the same filter, the rows the database has from then
    since = biden.at.replace(tzinfo=UTC).replace(second=0, microsecond=0)
    page.fill("#audit-filters input[name=since]", since.strftime("%Y-%m-%dT%H:%M"))
    page.click("#audit-filters button[type=submit]")
    page.wait_for_selector("#audit-rows[data-loaded*='since=']")
    shown_since = [int(x) for x in page.eval_on_selector_all("#audit-rows tr", "rs => rs.map(r => r.dataset.audit)")]
    with world.sessions()() as s:
        assert shown_since == s.scalars(
            select(AuditLog.id).where(AuditLog.username == officer, AuditLog.action == "read", AuditLog.at >= since,
                                      AuditLog.id <= shown_since[0]).order_by(AuditLog.id.desc()).limit(50)).all()
    assert biden.id in shown_since
    shot(page, "admin-audit-log")
    page.fill("#audit-filters input[name=since]", "")

    # every action, 20 a page: page 2 continues exactly where page 1 ended
    page.uncheck("#audit-filters input[name=reads]")
    page.fill("#audit-filters input[name=user]", "")
    page.select_option("#audit-filters select[name=limit]", "20")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_selector("#audit-rows[data-loaded='limit=20']")
    assert len(page.query_selector_all("#audit-rows tr")) == 20
    page.click("#audit-more")
    page.wait_for_function("() => document.querySelectorAll('#audit-rows tr').length === 40")
    shown = [int(x) for x in page.eval_on_selector_all("#audit-rows tr", "rs => rs.map(r => r.dataset.audit)")]
    with world.sessions()() as s:
        expected = s.scalars(select(AuditLog.id).where(AuditLog.id <= shown[0])
                             .order_by(AuditLog.id.desc()).limit(40)).all()
    assert shown == expected
    _to_chinese(page)
    page.wait_for_selector("#audit-rows tr")
    assert page.text_content("#audit-filters span[data-i18n=personal_reads]") == "仅个人数据查阅"
    shot(page, "admin-audit-log-zh")
    context.close()
