"""A whole Menwei for the browser tests: `menwei server run` as its own process (SQLite, its
in-process broker on a free port), the registry seeded, a real GateAgent playing a synthetic
walk-up video into it in real time, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from broker_kit import free_port
from gate_kit import gate_file, seed_compound, walkup_video

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"  # Debian's package (`make browser`); Playwright's own download is never used
PASSWORD = "ui-test-pass"
ARTEFACTS = REPO / "test-artefacts" / "web"


def launch_browser(playwright):
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("MENWEI_SKIP_BROWSER") == "1":
            pytest.skip("MENWEI_SKIP_BROWSER=1: the browser tests were told to skip")
        pytest.fail(f"{CHROMIUM} not found: run `make browser` (apt-get install chromium), "
                    "or set MENWEI_SKIP_BROWSER=1 to skip the browser tests", pytrace=False)
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])


def shot(page, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Compound:
    site: str
    gate: str
    other_site: str
    url: str  # the server's base URL
    db_url: str
    proc: subprocess.Popen
    mqtt_url: str  # the server's in-process broker (amqtt: MQTT 3.1.1)
    users: dict[str, str] = field(default_factory=dict)  # role → username

    def sessions(self):
        from server.db.session import make_engine, session_factory

        return session_factory(make_engine(self.db_url))


def seed_registry(db_url: str, site: str, gate: str, other_site: str, uid: str) -> dict[str, str]:
    from ingest_kit import seed

    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.db.session import make_engine, session_factory, upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    seed_compound(sessions, site, gate)
    # another compound with its own resident: nobody of `site` may see her
    seed(sessions, other_site, {f"{gate}-x": "in"}, [{"id": f"secret-{uid}", "name": "Other Compound Resident"}])
    users = {"guard": f"guard-{uid}", "community_officer": f"officer-{uid}", "property_manager": f"pm-{uid}"}
    with sessions() as s:
        for role, name in users.items():
            create_user(s, name, PASSWORD, Role(role), [site], rounds=4)
        s.commit()
    engine.dispose()
    return users


def start_server(tmp: Path, db_url: str) -> tuple[subprocess.Popen, str, str]:
    """`menwei server run` on free ports, as `menwei demo` starts it (its own in-process broker)."""
    from menwei.demo_system import start_server as start

    server = start(tmp, db_url, free_port(), free_port())
    return server.proc, server.url, server.mqtt_url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class RunningGate:
    """A GateAgent playing `scene` in real time into the server's broker (dry-run door)."""

    def __init__(self, tmp: Path, faces_dir: Path, site: str, gate: str, mqtt_url: str, face_engine,
                 scene: str = "demo", video: Path | None = None, **extra):
        from edge.agent.agent import GateAgent
        from edge.agent.config import load_gate_config

        video = video or walkup_video(tmp, faces_dir, scene)
        cfg = load_gate_config(gate_file(tmp, site, gate, str(video), mqtt_url, faces_dir,
                                         camera={"realtime": True}, **extra))
        self.agent = GateAgent(cfg, engine=face_engine)
        self._rc: dict = {}
        self.thread = threading.Thread(target=lambda: self._rc.setdefault("rc", self.agent.run()), name="agent")

    def start(self) -> RunningGate:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.agent.stop()
        self.thread.join(30)
        assert not self.thread.is_alive() and self._rc.get("rc") == 0


def enrol_residents(url: str, username: str, faces_dir: Path) -> None:
    """Each resident's first enrolment photo, uploaded the way an office does (the server's own
    face engine enrols it and publishes the compound's gallery to the gate)."""
    from gate_kit import RESIDENTS

    r = httpx.post(f"{url}/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for resident in RESIDENTS:
        photo = sorted((faces_dir / "knn_examples" / "train" / resident).iterdir())[0]
        r = httpx.post(f"{url}/api/v1/residents/{resident}/photos", headers=headers, timeout=120,
                       files=[("file", (photo.name, photo.read_bytes(), "image/jpeg"))])
        assert r.status_code == 201, r.text
