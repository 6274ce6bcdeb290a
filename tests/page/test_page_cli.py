"""`menwei edge run` with a page section serves the page beside the agent and stops it with the agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
from broker_kit import free_port
from gate_kit import gate_file, walkup_video
from page_kit import PASSWORD
from test_gate_link import _clear_broker

from edge.page.password import hash_password


def test_edge_run_serves_the_page_until_it_stops(tmp_path, faces_dir, broker_url, uid):
    site, gate, port = f"s{uid}", f"g{uid}", free_port()
    video = walkup_video(tmp_path, faces_dir)
    config = gate_file(tmp_path, site, gate, str(video), broker_url, faces_dir, camera={"realtime": True},
                       page={"listen": f"127.0.0.1:{port}", "password_hash": hash_password(PASSWORD)})
    log = tmp_path / "agent.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "menwei", "edge", "run", "--config", str(config)],
                                env={**os.environ, "PYTHONPATH": os.getcwd()}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, health = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        assert health is not None and (health.status_code, health.json()) == (200, {"ok": True}), log.read_text()
        assert httpx.get(f"{base}/api/state", timeout=2).status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        _clear_broker(broker_url, site, gate)
    try:
        httpx.get(f"{base}/healthz", timeout=2)
        raise AssertionError("the page still answers after the agent stopped")
    except httpx.TransportError:
        pass
    assert "Traceback" not in log.read_text()
