"""`menwei demo`: the whole system on one machine, for a newcomer to watch in a browser.

The server (`menwei server run`: SQLite, its in-process MQTT broker, the web UI) runs as its own
process on a fresh data folder, seeded with a demo compound, 未来城, whose residents' photos are the
test photographs the project ships; the server's own face engine enrols them and publishes the
compound's gallery. One simulated gate (a real gate agent: simulated camera and thermal sensor,
dry-run door) plays a generated video again and again: residents walking up, an unknown visitor,
a fever, a visitor holding up a phone with a pass the office issued, and a resident's printed
photo held up to the camera (the thermal image shows it is not a face). Ctrl-C stops the gate,
then the server, and removes the demo's data unless --data-dir was given.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SITE, SITE_NAME, GATE = "weilaicheng", "未来城", "weilaicheng-north"
# photo folder (tests/data/faces/knn_examples/train/<id>) → name, building, unit, household
RESIDENTS = {
    "alex_lacamoire": ("李明", "1号楼", "1单元", "101室"),
    "obama": ("王建国", "1号楼", "2单元", "203室"),
    "rose_leslie": ("陈静", "2号楼", "1单元", "502室"),
    "biden": ("张伟", "2号楼", "1单元", "601室"),
    "kit_harington": ("刘洋", "3号楼", "1单元", "302室"),
}
USERS = {"guard": "guard", "officer": "community_officer", "property": "property_manager", "admin": "admin"}


@dataclass
class DemoServer:
    proc: subprocess.Popen
    url: str
    mqtt_url: str


def faces_dir() -> Path:
    here = Path(__file__).resolve().parents[1]
    for cand in (here / "tests" / "data" / "faces", here / "testdata" / "faces"):
        if (cand / "knn_examples" / "train").is_dir():
            return cand
    from menwei.errors import MenweiError

    raise MenweiError("demo: the test photographs (tests/data/faces) are not here: run it from a clone of "
                      "the repository", "bad_input")


def seed(db_url: str, password: str) -> None:
    """The compound, its buildings, units, households and residents, one gate, a user per role."""
    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.db.models import Building, Gate, Household, Resident, Site, Unit
    from server.db.session import make_engine, session_factory, upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with session_factory(engine).begin() as s:
            s.add(Site(id=SITE, name=SITE_NAME, address="示范小区"))
            s.add(Gate(id=GATE, site_id=SITE, name="北门", direction="in"))
            buildings: dict[str, Building] = {}
            units: dict[tuple[str, str], Unit] = {}
            for rid, (name, b, u, hh) in RESIDENTS.items():
                building = buildings.setdefault(b, Building(site_id=SITE, name=b))
                unit = units.setdefault((b, u), Unit(building=building, name=u))
                s.add(Resident(id=rid, site_id=SITE, household=Household(unit=unit, name=hh), name=name))
            s.flush()
            for username, role in USERS.items():
                create_user(s, username, password, Role(role), [SITE], rounds=4)
    finally:
        engine.dispose()


def start_server(data: Path, db_url: str, port: int, broker_port: int) -> DemoServer:
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("MENWEI_")}  # its own settings only
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    log = open(data / "server.log", "w")  # noqa: SIM115 - the child writes it until it exits
    proc = subprocess.Popen([sys.executable, "-m", "menwei", "server", "run", "--db", db_url,
                             "--data-dir", str(data / "server"), "--listen", f"127.0.0.1:{port}",
                             "--embedded-broker", f"127.0.0.1:{broker_port}", "--no-retention"],
                            # same process group: a Ctrl-C or a kill of the group reaches the server too
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            from menwei.errors import MenweiError

            tail = (data / "server.log").read_text()[-800:]
            raise MenweiError(f"demo: the server stopped at start (is port {port} free?): {tail}", "unavailable")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return DemoServer(proc, url, f"mqtt://127.0.0.1:{broker_port}?version=3.1.1")
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.terminate()
    from menwei.errors import MenweiError

    raise MenweiError("demo: the server did not answer within 120 s", "unavailable")


def enrol_and_issue(server: DemoServer, password: str, faces: Path) -> tuple[str, str]:
    """Each resident's photos through the API, as an office uploads them; one visitor pass for the
    household of 王建国. Returns (pass token, the passes' public key)."""
    import httpx

    token = httpx.post(f"{server.url}/api/v1/auth/token",
                       data={"username": "officer", "password": password}).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    for rid in RESIDENTS:
        photos = sorted((faces / "knn_examples" / "train" / rid).iterdir())[:2]
        files = [("file", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
        r = httpx.post(f"{server.url}/api/v1/residents/{rid}/photos", headers=h, files=files, timeout=300)
        r.raise_for_status()
    now = datetime.now(UTC)
    r = httpx.post(f"{server.url}/api/v1/sites/{SITE}/passes", headers=h, timeout=30,
                   json={"host_resident_id": "obama", "valid_from": (now - timedelta(hours=1)).isoformat(),
                         "valid_until": (now + timedelta(days=1)).isoformat(), "note": "demo: 王建国's guest"})
    r.raise_for_status()
    key = httpx.get(f"{server.url}/api/v1/passes/public-key", headers=h).json()["public_key"]
    return r.json()["token"], key


def demo_video(folder: Path, faces: Path, pass_token: str) -> Path:
    """The gate's camera: the demo scene's walkers, then a phone with the pass, then a print."""
    from edge.capture.synthetic import FEVER_C, LEAD_S, UNKNOWN_PHOTO, Phone, Scene, walker

    walkers = [walker(faces, "alex_lacamoire", LEAD_S), walker(faces, UNKNOWN_PHOTO[1], 3.8),
               walker(faces, "obama", 7.1), walker(faces, "rose_leslie", 7.4),
               walker(faces, "biden", 10.8, core_temperature_c=FEVER_C),
               # 刘洋's photo, printed and held up: the camera sees his face, the thermal sensor paper
               walker(faces, "kit_harington", 18.0, spoof="printed_photo")]
    scene = Scene(walkers, width=640, height=360, tail_s=1.5,
                  phones=[Phone(pass_token, 14.3, 16.3, at=(0.55, 0.15))])
    video = scene.write_video(folder / "demo.avi")
    scene.save_truth(video.with_suffix(".truth.json"))
    return video


def gate_file(folder: Path, video: Path, mqtt_url: str, public_key: str, faces: Path) -> Path:
    import yaml

    data = {"site": SITE, "gate": GATE, "direction": "in", "data_dir": str(folder / "gate"),
            "camera": {"source": str(video), "realtime": True}, "thermal": {"sensor": "sim"},
            "door": {"driver": "dry-run"}, "mqtt": {"url": mqtt_url},
            # until the server's gallery arrives (seconds): the same people from the same photos
            "gallery": {"folder": str(faces / "knn_examples" / "train")},
            "passes": {"public_key": public_key, "repeat_s": 5}}
    path = folder / "gate.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def run_gate(config: Path, stop: threading.Event, loops: int | None) -> None:
    """The video again and again (a fresh agent each time: the outbox and seq carry on)."""
    from edge.agent.agent import GateAgent
    from edge.agent.config import load_gate_config
    from edge.face.engine import FaceEngine

    engine = FaceEngine.load()
    n = 0
    while not stop.is_set() and (loops is None or n < loops):
        agent = GateAgent(load_gate_config(config), engine=engine)
        runner = threading.Thread(target=agent.run, name="demo-gate", daemon=True)
        runner.start()
        while runner.is_alive() and not stop.wait(0.2):
            pass
        agent.stop()
        runner.join(30)
        n += 1
        stop.wait(3.0)  # an empty gate between rounds


def run(args) -> int:
    from menwei.errors import MenweiError

    faces = faces_dir()
    keep = args.data_dir is not None
    data = Path(args.data_dir) if keep else Path(tempfile.mkdtemp(prefix="menwei-demo-"))
    if keep and data.exists() and any(data.iterdir()):
        raise MenweiError(f"demo: {data} is not empty (the demo seeds a fresh database)", "bad_input")
    data.mkdir(parents=True, exist_ok=True)
    password = args.password or secrets.token_urlsafe(9)
    db_url = f"sqlite:///{data / 'demo.db'}"
    server = None
    gate = None
    stop = threading.Event()
    # a service manager or a test stops it with SIGTERM: the same clean stop as Ctrl-C
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        print("menwei demo: seeding 未来城 and starting the server …", file=sys.stderr)
        seed(db_url, password)
        server = start_server(data, db_url, args.port, args.broker_port)
        print("menwei demo: enrolling the residents' photos …", file=sys.stderr)
        token, key = enrol_and_issue(server, password, faces)
        video = demo_video(data, faces, token)
        gate = threading.Thread(target=run_gate, args=(gate_file(data, video, server.mqtt_url, key, faces), stop,
                                                      args.loops), name="demo-gate-loop", daemon=True)
        gate.start()
        print(f"\nMenwei demo is running: open {server.url}/ in a browser\n"
              f"  log in as  guard / officer / property / admin   password: {password}\n"
              f"  a simulated gate at 未来城's north gate plays residents, a stranger, a fever, a visitor pass\n"
              f"  and a printed photo, again and again. Ctrl-C stops everything.\n", flush=True)
        while gate.is_alive():
            gate.join(0.5)
        return 0
    except KeyboardInterrupt:
        print("\nmenwei demo: stopping …", file=sys.stderr)
        return 0
    finally:
        stop.set()
        signal.signal(signal.SIGTERM, previous)
        if gate is not None:
            gate.join(30)  # the agent stops between frames and closes its outbox
        if server is not None:
            server.proc.terminate()
            try:
                server.proc.wait(30)
            except subprocess.TimeoutExpired:
                server.proc.kill()
        if not keep:
            shutil.rmtree(data, ignore_errors=True)
