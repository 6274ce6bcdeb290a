"""The page end to end: a real GateAgent on a synthetic walk-up video (real time, the local
Mosquitto, a dry-run door), its page served by uvicorn, and Debian's Chromium driven by Playwright:
a wrong password is refused, decisions arrive live with a face crop, the language switches to
Chinese, and a guard's local open reaches the door and the outbox under the guard's name."""

from __future__ import annotations

import json
import re
import shutil
import threading

import pytest
from gate_kit import RESIDENTS, gate_file, walkup_video
from page_kit import PASSWORD

from edge.agent.agent import GateAgent
from edge.agent.config import load_gate_config
from edge.page.password import hash_password
from edge.page.serve import PageServer
from edge.page.view import AgentView

CHROMIUM = "/usr/bin/chromium"  # Debian's package (`make browser`); Playwright's own download is never used


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: run `make browser` (apt-get install chromium)", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright not installed: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def running_gate(tmp_path, faces_dir, broker_url, uid, face_engine):
    site, gate = f"s{uid}", f"g{uid}"
    video = walkup_video(tmp_path, faces_dir)
    # real time: the walkers arrive over ~17 s, so the page sees decisions come in live
    cfg = load_gate_config(gate_file(tmp_path, site, gate, str(video), broker_url, faces_dir,
                                     camera={"realtime": True},
                                     page={"user": "guard", "password_hash": hash_password(PASSWORD)}))
    agent = GateAgent(cfg, engine=face_engine)
    page = PageServer(AgentView(agent), cfg.page, port=0).start()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", agent.run()), name="agent")
    thread.start()
    try:
        yield agent, f"http://127.0.0.1:{page.port}/"
    finally:
        agent.stop()
        thread.join(30)
        page.stop()
    assert not thread.is_alive() and result.get("rc") == 0


def test_a_guard_watches_decisions_and_opens_the_door_from_the_page(running_gate, browser):
    agent, url = running_gate
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    page.goto(url)

    # a wrong password is refused and the gate's data stays hidden
    page.fill("#user", "guard")
    page.fill("#password", "not-the-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:has-text('wrong user or password')")
    assert page.is_hidden("#main")

    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#main", state="visible")

    # a decision arrives over the stream with a resident's name and the face crop the gate took
    first = page.wait_for_selector("#decisions li.decision", timeout=60_000)
    name = first.query_selector(".name").inner_text()
    assert name in RESIDENTS, name
    face = first.query_selector("img.face")
    assert face.get_attribute("src").startswith("data:image/jpeg;base64,")
    page.wait_for_function("() => document.querySelector('#decisions li.decision img.face').naturalWidth > 0")
    # health from the loop's own state: a frame rate and the outbox
    page.wait_for_selector("#health-list dd[data-key=fps]")
    assert re.fullmatch(r"\d+(\.\d+)?", page.inner_text("#health-list dd[data-key=fps]"))

    page.click("#lang")
    assert page.inner_text("#live-title") == "实时通行"
    assert page.inner_text("#open h2") == "本地开门"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"

    page.fill("#reason", "送快递 parcel")
    page.click("#open-form button[type=submit]")
    page.wait_for_selector("#open-result:has-text('门已打开')", timeout=10_000)
    seq = int(re.search(r"#(\d+)", page.inner_text("#open-result")).group(1))
    page.wait_for_selector("#decisions li.override")
    context.close()

    # the door opened for that event, and the event waits in the outbox under the guard's name
    assert [a.event_seq for a in agent.door.actuations if a.cause == "local_open"] == [seq]
    event = {s: json.loads(p) for s, p in agent.outbox.pending(0, 1000)}[seq]
    assert event["reasons"] == ["local_open"]
    assert event["override"] == {"operator": "local:guard", "reason": "送快递 parcel"}
