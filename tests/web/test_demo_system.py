"""`menwei demo` (what `make demo` runs) from this checkout: the server, 未来城 seeded, the gate
playing its video; the guard's screen shows the entries arriving, and a SIGTERM (Ctrl-C) stops
everything cleanly. What the gate decided is checked in the demo's own database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

from broker_kit import free_port
from sqlalchemy import create_engine, text
from ui_kit import REPO, launch_browser, shot


def test_make_demo_shows_the_gate_live_and_stops_cleanly(tmp_path):
    from playwright.sync_api import sync_playwright

    port, broker = free_port(), free_port()
    data = tmp_path / "demo"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "menwei", "demo", "--port", str(port), "--broker-port", str(broker),
                             "--data-dir", str(data), "--password", "demo-pass-1", "--loops", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own group, with the server it starts
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 240
        while not any("Menwei demo is running" in ln for ln in lines):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)[-3000:]
            time.sleep(0.5)
        assert any(f"http://127.0.0.1:{port}/" in ln for ln in lines)
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                       viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.fill("input[name=username]", "guard")
            page.fill("input[name=password]", "demo-pass-1")
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#decisions li.decision .name:text-is('李明')", timeout=90_000)
            page.wait_for_selector("#decisions li.decision.granted .name:text-is('王建国 的访客')", timeout=90_000)
            # 刘洋's printed photo comes last in the video: once it is refused, everything has played
            page.wait_for_selector("#decisions li.decision:has-text('刘洋'):has-text('非活体')", timeout=90_000)
            shot(page, "demo-guard-screen-zh")
            browser.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, "".join(lines)[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a failed run leaves no server behind
        proc.wait()
    engine = create_engine(f"sqlite:///{data / 'demo.db'}")
    with engine.connect() as c:
        rows = c.execute(text("SELECT resident_id, decision, reasons FROM entries ORDER BY seq")).all()
    engine.dispose()
    by = [(r[0], r[1], set(eval_reasons(r[2]))) for r in rows]
    assert ("alex_lacamoire", "granted") in {(a, b) for a, b, _ in by}
    assert any(a is None and "unknown_face" in c for a, _, c in by)
    assert any(a == "biden" and b != "granted" and "fever" in c for a, b, c in by)
    assert any(b == "granted" and c == {"visitor_pass"} for _, b, c in by)
    assert any(b != "granted" and "liveness_failed" in c for _, b, c in by)  # the print of 刘洋


def eval_reasons(value) -> list[str]:
    import json

    return json.loads(value) if isinstance(value, str) else list(value or [])
