"""The gate agent and the real server over the real Mosquitto: every entry arrives once, reconciled,
through crashes of either side, a broker restart and a cut network; stale commands do nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from broker_kit import PrivateMosquitto, free_port
from gate_kit import RESIDENTS, CutProxy, gate_file, seed_compound, walkup_video
from ingest_kit import wait_for
from sqlalchemy import select
from sqlalchemy.orm import undefer
from test_ingest import make_settings

from edge.agent.agent import GateAgent
from edge.agent.config import load_gate_config
from edge.face.engine import FaceEngine
from menwei.cli import main
from menwei.mqtt import BrokerUrl
from server.db.models import Alert, Entry, GateCommand
from server.ingest.worker import IngestWorker

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the server side is tested on both


@pytest.fixture(scope="module")
def face():
    return FaceEngine.load()


def entries(sessions, gate: str) -> list[Entry]:
    with sessions() as s:
        return list(s.scalars(select(Entry).options(undefer(Entry.face_jpeg)).where(Entry.gate_id == gate)
                              .order_by(Entry.seq)))


def assert_exactly_once(sessions, gate: str, last_seq: int) -> list[Entry]:
    rows = entries(sessions, gate)
    assert [e.seq for e in rows] == list(range(1, last_seq + 1)), "a gap or a double in the gate's seqs"
    assert len({e.event_id for e in rows}) == len(rows)
    return rows


def run_agent(agent: GateAgent, timeout: float = 120) -> int:
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", agent.run(exit_when_drained=True,
                                                                            drain_timeout_s=timeout)))
    t.start()
    t.join(timeout + 30)
    assert not t.is_alive(), "the agent did not finish"
    return result["rc"]


@sqlite_only
def test_entries_reach_the_server_reconciled_and_the_door_follows(db_url, sessions, broker_url, uid, tmp_path,
                                                                   faces_dir, face, capsys):
    site, gate = f"s{uid}", f"g{uid}"
    seed_compound(sessions, site, gate)
    video = walkup_video(tmp_path, faces_dir)
    cfg = load_gate_config(gate_file(tmp_path, site, gate, str(video), broker_url, faces_dir))
    worker = IngestWorker(make_settings(db_url, broker_url, uid, [site]), sessions).start()
    try:
        assert worker.subscribed.wait(10)
        agent = GateAgent(cfg, engine=face)
        assert run_agent(agent) == 0
    finally:
        worker.stop()
    rows = assert_exactly_once(sessions, gate, agent.counters.events)
    # the scene walks each of the five residents up once: five entries, each linked to its resident
    assert sorted(e.resident_id for e in rows) == sorted(RESIDENTS)
    assert all(e.matched_by.value == "gate" and e.decision == "granted" for e in rows)
    assert all(e.temperature_status == "normal" and e.face_jpeg for e in rows)
    # the door opened once per granted entry, each time after its event was committed
    assert sorted(a.event_seq for a in agent.door.actuations) == [e.seq for e in rows]
    # what `menwei edge status` reads from the data dir once the agent is gone
    assert main(["edge", "status", "--config", str(tmp_path / "gate.yaml"), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["last_seq"], status["acked_seq"], status["outbox"]) == (5, 5, {"depth": 0, "oldest_seq": None})
    assert status["online"] is False and status["gallery_version"] is not None


AGENT_ENV = {**os.environ, "PYTHONPATH": os.getcwd()}


def _logged(args: list[str], log: Path) -> subprocess.Popen:
    """A child whose output goes to a file: a pipe nobody reads fills up and stalls the child."""
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, *args], env=AGENT_ENV, stdout=out, stderr=subprocess.STDOUT,
                                text=True)


def _agent_process(config: Path) -> subprocess.Popen:
    return _logged(["-m", "menwei", "edge", "run", "--config", str(config), "--exit-when-drained"],
                   config.parent / "agent.log")


def _worker_process(db_url: str, url: str, uid: str, site: str, log: Path) -> subprocess.Popen:
    return _logged(["-m", "server.ingest", "--db", db_url, "--mqtt", url, "--client-id", f"ingest-{uid}",
                    "--site", site, "--no-rematch", "--shared-group", f"g{uid}"], log)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no output)"


def _outbox_last_seq(config) -> int:
    from edge.link.outbox import read_stats

    st = read_stats(load_gate_config(config).data_dir / "outbox.sqlite")
    return st.last_seq if st else 0


def _walkup_behind_proxy(sessions, uid, tmp_path, faces_dir):
    """A seeded compound, the walk-up video, and a private broker the gate reaches through a CutProxy."""
    site, gate = f"s{uid}", f"g{uid}"
    seed_compound(sessions, site, gate)
    video = walkup_video(tmp_path, faces_dir)
    port = free_port()
    broker = PrivateMosquitto(tmp_path, f"listener {port} 127.0.0.1\nallow_anonymous true", [port])
    return site, gate, video, port, broker, CutProxy(port)


@sqlite_only
def test_nothing_lost_or_doubled_through_crashes_restarts_and_a_cut_network(db_url, sessions, uid, tmp_path,
                                                                          faces_dir):
    site, gate, video, port, broker, proxy = _walkup_behind_proxy(sessions, uid, tmp_path, faces_dir)
    url = f"mqtt://127.0.0.1:{port}"
    # the gate talks through the proxy and replays the video at its own pace (about 17 s)
    config = gate_file(tmp_path, site, gate, str(video), f"mqtt://127.0.0.1:{proxy.port}", faces_dir,
                       camera={"realtime": True})
    worker = _worker_process(db_url, url, uid, site, tmp_path / "worker-1.log")
    agent = _agent_process(config)
    try:
        assert wait_for(lambda: _outbox_last_seq(config) >= 1, timeout=60), "no decision within 60 s"
        agent.send_signal(signal.SIGKILL)  # the gate loses power mid-stream
        agent.wait(10)
        agent = _agent_process(config)  # ... and boots again: the video plays again from the start
        assert wait_for(lambda: _outbox_last_seq(config) >= 3, timeout=60)
        worker.send_signal(signal.SIGKILL)  # the server's ingest worker dies
        worker.wait(10)
        worker_log = tmp_path / "worker-2.log"
        worker = _worker_process(db_url, url, uid, site, worker_log)
        # started against the old broker (a worker that finds no broker at start exits, by design):
        # what follows tests its reconnect, not a race with its start-up
        assert wait_for(lambda: "ready" in _tail(worker_log).splitlines(), timeout=60), _tail(worker_log)
        proxy.cut()  # the gate's network goes away for a while
        threading.Timer(2.0, proxy.mend).start()
        broker.stop()  # and the broker restarts (persistence off: its sessions are gone)
        broker = PrivateMosquitto(tmp_path, f"listener {port} 127.0.0.1\nallow_anonymous true", [port])
        try:
            rc = agent.wait(150)
        except subprocess.TimeoutExpired:
            rc = "still running after 150 s"
        assert rc == 0, f"agent: {rc}\n{_tail(config.parent / 'agent.log')}\nworker:\n{_tail(worker_log)}"
    finally:
        for p in (agent, worker):
            if p.poll() is None:
                p.kill()
                p.wait(10)
        proxy.close()
        broker.stop()
    last = _outbox_last_seq(config)
    rows = assert_exactly_once(sessions, gate, last)
    assert last >= 6  # the first run's decisions plus a full replay of five residents
    assert {e.resident_id for e in rows} <= set(RESIDENTS)


@sqlite_only
def test_a_stale_remote_open_is_refused_and_a_fresh_one_opens_with_its_override(db_url, sessions, broker_url, uid,
                                                                                 tmp_path, faces_dir, face):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from menwei.wire import Channel, Command, CommandKind, topic

    site, gate = f"s{uid}", f"g{uid}"
    seed_compound(sessions, site, gate)
    # a camera that shows nobody: a folder with one empty frame, played in a loop by nobody -> idle gate
    empty = tmp_path / "empty"
    empty.mkdir()
    import cv2
    import numpy as np

    cv2.imwrite(str(empty / "0.jpg"), np.full((360, 640, 3), 90, np.uint8))
    cfg = load_gate_config(gate_file(tmp_path, site, gate, str(empty), broker_url, faces_dir,
                                     thermal={"sensor": "none"}))
    worker = IngestWorker(make_settings(db_url, broker_url, uid, [site]), sessions).start()
    agent = GateAgent(cfg, engine=face)
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    server = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"cmd-{uid}")
    server.connect(BrokerUrl.parse(broker_url).host, BrokerUrl.parse(broker_url).port)
    server.loop_start()
    try:
        assert worker.subscribed.wait(10)
        assert wait_for(lambda: agent.link.stats.connected, timeout=20)
        now = datetime.now(UTC)
        stale = Command(command_id=uuid.uuid4(), kind=CommandKind.OPEN, operator="guard1", reason="courier",
                        issued_at=now - timedelta(hours=3))
        fresh = Command(command_id=uuid.uuid4(), kind=CommandKind.OPEN, operator="guard1", reason="courier",
                        issued_at=now)
        with sessions.begin() as s:  # the server's record of the fresh command (what POST /commands writes)
            s.add(GateCommand(id=fresh.command_id, gate_id=gate, kind="open", operator="guard1", reason="courier",
                              issued_at=now))
        t = topic(site, gate, Channel.CMD)
        server.publish(t, stale.model_dump_json().encode(), qos=1).wait_for_publish(5)
        assert wait_for(lambda: agent.counters.commands_refused == 1, timeout=10)
        assert agent.door.actuations == []
        server.publish(t, fresh.model_dump_json().encode(), qos=1).wait_for_publish(5)
        assert wait_for(lambda: len(agent.door.actuations) == 1, timeout=10)
        assert agent.door.actuations[0].cause == "remote_open"
        assert wait_for(lambda: len(entries(sessions, gate)) == 1, timeout=20)
    finally:
        agent.stop()
        runner.join(20)
        server.loop_stop()
        server.disconnect()
        worker.stop()
    (e,) = entries(sessions, gate)
    assert e.override == {"operator": "guard1", "reason": "courier"} and e.reasons == ["remote_open"]
    with sessions() as s:  # a true override (it has its command) raises no unknown-person alert
        assert s.scalars(select(Alert).where(Alert.entry_id == e.id)).all() == []


def _clear_broker(broker_url: str, site: str, gate: str) -> None:
    """What subprocesses left on the shared broker: retained messages and the gate's session."""
    import paho.mqtt.publish as publish

    from menwei.mqtt import BrokerUrl, end_session
    from menwei.wire import Channel, gate_username, topic

    b = BrokerUrl.parse(broker_url)
    publish.multiple([{"topic": topic(site, gate, c), "payload": b"", "qos": 1, "retain": True}
                      for c in (Channel.STATUS, Channel.GALLERY, Channel.CONFIG)], hostname=b.host, port=b.port)
    end_session(broker_url, gate_username(gate))


def _menwei(*args: str, stdin: str | None = None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "menwei", *args], input=stdin, capture_output=True, text=True,
                          env=env or AGENT_ENV, timeout=120)


def test_the_whole_system_residents_enrolled_through_the_api_recognised_at_the_gate(broker_url, uid, tmp_path,
                                                                                   faces_dir):
    """`menwei server run` as the README starts it; residents and photos through the API; the gate
    gets the compound's gallery over ctl/gallery + HTTP and its entries come back reconciled."""
    import httpx

    db = f"sqlite:///{tmp_path / 'server.db'}"
    assert _menwei("server", "init", "--db", db, "--data-dir", str(tmp_path), "--admin", "root",
                   stdin="correct horse battery\n").returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**AGENT_ENV, "MENWEI_INGEST__CLIENT_ID": f"ingest-{uid}", "MENWEI_INGEST__SHARED_GROUP": f"g{uid}",
           "MENWEI_INGEST__REMATCH": "false", "MENWEI_PUBLIC_URL": base}
    server = subprocess.Popen([sys.executable, "-m", "menwei", "server", "run", "--db", db, "--data-dir",
                               str(tmp_path), "--mqtt", broker_url, "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    site, gate = f"s{uid}", f"g{uid}"
    ids = {name: f"{name}-{uid}" for name in RESIDENTS}
    try:
        assert "menwei server: API" in server.stdout.readline(), server.stderr.read()[-2000:]
        with httpx.Client(base_url=base, timeout=30) as http:
            tok = http.post("/api/v1/auth/token", data={"username": "root", "password": "correct horse battery"})
            h = {"Authorization": f"Bearer {tok.json()['access_token']}"}
            assert http.post("/api/v1/sites", json={"id": site, "name": "S"}, headers=h).status_code == 201
            assert http.post("/api/v1/gates", json={"id": gate, "site_id": site, "direction": "in"},
                             headers=h).status_code == 201
            for name, rid in ids.items():
                assert http.post("/api/v1/residents", json={"id": rid, "site_id": site, "name": name},
                                 headers=h).status_code == 201
                photo = sorted((faces_dir / "knn_examples" / "train" / name).iterdir())[0]
                r = http.post(f"/api/v1/residents/{rid}/photos", files=[("file", (photo.name, photo.read_bytes()))],
                              headers=h)
                assert r.status_code == 201, r.text
            published = http.post(f"/api/v1/sites/{site}/gallery/publish", headers=h).json()
            video = walkup_video(tmp_path, faces_dir)
            config = gate_file(tmp_path, site, gate, str(video), broker_url, faces_dir,
                               gallery={"folder": None}, server={"url": base})
            agent = _menwei("edge", "run", "--config", str(config), "--exit-when-drained")
            assert agent.returncode == 0, agent.stderr[-2000:]
            items = http.get(f"/api/v1/entries?site={site}&limit=50", headers=h).json()["items"]
            info = http.get(f"/api/v1/gates/{gate}", headers=h).json()
    finally:
        server.terminate()
        server.wait(20)
        _clear_broker(broker_url, site, gate)
        mqtt_clear = _menwei("edge", "status", "--config", str(tmp_path / "gate.yaml"), "--json")
    assert sorted(i["resident_id"] for i in items) == sorted(ids.values())
    assert all(i["decision"] == "granted" and i["matched_by"] == "gate" for i in items)
    assert sorted(i["seq"] for i in items) == [1, 2, 3, 4, 5]
    status = json.loads(mqtt_clear.stdout)
    assert status["gallery_version"] == published["version"] and status["outbox"]["depth"] == 0
    assert info["gallery_version"] == published["version"]  # what the gate reported on its status


def _serve(files: dict[str, bytes]):
    """A tiny HTTP server for gallery files (what the server's gallery route serves)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@sqlite_only
def test_a_bad_gallery_or_config_is_refused_and_the_good_one_kept_offline(db_url, sessions, broker_url, uid, tmp_path,
                                                                          faces_dir, face):
    import hashlib

    import cv2
    import numpy as np
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from edge.face.service import build_folder_gallery
    from menwei.wire import Channel, topic

    site, gate = f"s{uid}", f"g{uid}"
    empty = tmp_path / "empty"
    empty.mkdir()
    cv2.imwrite(str(empty / "0000.jpg"), np.full((360, 640, 3), 90, np.uint8))
    for i in range(1, 1500):  # a minute of an empty view at 25 fps (hard links: no disk)
        os.link(empty / "0000.jpg", empty / f"{i:04d}.jpg")
    small = tmp_path / "one"
    (small / "obama").mkdir(parents=True)
    (small / "obama" / "obama.jpg").write_bytes((faces_dir / "knn_examples/train/obama/obama.jpg").read_bytes())
    served, _ = build_folder_gallery(face, faces_dir / "knn_examples" / "train")
    served.version = 7
    data = served.to_bytes()
    http = _serve({"/g7": data})
    base = f"http://127.0.0.1:{http.server_port}"
    cfg = load_gate_config(gate_file(tmp_path, site, gate, str(empty), broker_url, faces_dir,
                                     thermal={"sensor": "none"}, gallery={"folder": str(small)},
                                     camera={"realtime": True}))
    agent = GateAgent(cfg, engine=face)
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    seen: dict[str, bytes] = {}
    server = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"ctl-{uid}")
    server.on_message = lambda _c, _u, m: seen.__setitem__(m.topic, m.payload)
    server.connect(BrokerUrl.parse(broker_url).host, BrokerUrl.parse(broker_url).port)
    server.loop_start()
    server.subscribe(topic(site, gate, Channel.STATUS), qos=1)

    def announce(channel, body: dict):
        server.publish(topic(site, gate, channel), json.dumps(body).encode(), qos=1, retain=True).wait_for_publish(5)

    def status() -> dict:
        raw = seen.get(topic(site, gate, Channel.STATUS))
        return json.loads(raw) if raw else {}

    try:
        assert wait_for(lambda: agent.link.stats.connected, timeout=20)
        assert agent.gallery.identities == ["obama"]
        announce(Channel.GALLERY, {"version": 7, "url": f"{base}/g7", "sha256": "0" * 64, "count": 5})
        assert wait_for(lambda: agent.gallery_sync.last_error, timeout=10)
        assert "checksum mismatch" in agent.gallery_sync.last_error
        assert wait_for(lambda: "checksum" in (status().get("gallery_error") or ""), timeout=10)
        assert agent.gallery.identities == ["obama"]  # the old one stays in use
        announce(Channel.GALLERY, {"version": 7, "url": f"{base}/g7", "sha256": hashlib.sha256(data).hexdigest(),
                                   "count": 5})
        assert wait_for(lambda: agent.gallery.version == 7, timeout=10)
        assert len(agent.gallery.identities) == 5
        assert wait_for(lambda: status().get("gallery_version") == 7 and not status().get("gallery_error"), 10)

        announce(Channel.CONFIG, {"version": 3, "config": {"policy": {"fever": "lukewarm"}}})
        assert wait_for(lambda: agent.config_error, timeout=10)
        assert "policy.fever" in agent.config_error and agent.config_version is None
        assert wait_for(lambda: "policy.fever" in (status().get("config_error") or ""), timeout=10)
        announce(Channel.CONFIG, {"version": 4, "config": {"door_open_ms": 1234, "policy": {"fever": "soft"}}})
        assert wait_for(lambda: agent.config_version == 4, timeout=10)
        assert agent.remote.door_open_ms == 1234 and agent.pipeline.decider.config.fever == "soft"
        assert wait_for(lambda: status().get("config_version") == 4 and not status().get("config_error"), 10)
        first = agent.pipeline
        announce(Channel.CONFIG, {"version": 5, "config": {"door_open_ms": 1234, "policy": {"fever": "soft"},
                                                           "pipeline": {"timeout_s": 4.5, "unknown_votes": 3}}})
        assert wait_for(lambda: agent.config_version == 5, timeout=10)
        # the pipeline's own settings: a new pipeline from the next frame on, the policy kept
        assert wait_for(lambda: agent.pipeline is not None and agent.pipeline is not first, timeout=10)
        assert (agent.pipeline.config.timeout_s, agent.pipeline.config.unknown_votes) == (4.5, 3)
        assert agent.pipeline.decider.config.fever == "soft"
    finally:
        agent.stop()
        runner.join(20)
        for channel in (Channel.GALLERY, Channel.CONFIG):
            server.publish(topic(site, gate, channel), b"", qos=1, retain=True).wait_for_publish(5)
        server.loop_stop()
        server.disconnect()
        http.shutdown()
    # back with no broker and no folder: the gate decides from the cached gallery and config
    offline = load_gate_config(gate_file(tmp_path, site, gate, str(empty), f"mqtt://127.0.0.1:{free_port()}",
                                         faces_dir, thermal={"sensor": "none"}, gallery={"folder": None}))
    again = GateAgent(offline, engine=face)
    assert again.gallery.version == 7 and len(again.gallery.identities) == 5
    assert again.config_version == 5 and again.remote.door_open_ms == 1234 and again.remote.pipeline.timeout_s == 4.5
    again.outbox.close()


@sqlite_only
def test_a_full_outbox_keeps_the_door_shut_and_loses_nothing(db_url, sessions, uid, tmp_path, faces_dir, face):
    from edge.agent.events import EventFactory
    from edge.link.outbox import Outbox

    site, gate, video, port, broker, proxy = _walkup_behind_proxy(sessions, uid, tmp_path, faces_dir)
    proxy.cut()  # the gate is offline from the start
    config = gate_file(tmp_path, site, gate, str(video), f"mqtt://127.0.0.1:{proxy.port}", faces_dir,
                       outbox={"max_events": 10})
    cfg = load_gate_config(config)
    # eight events already wait (a long night offline)
    ob = Outbox(cfg.data_dir / "outbox.sqlite", max_events=10)
    factory = EventFactory(site, gate, "in", face.pack, None)
    for _ in range(8):
        ob.append(lambda seq: (lambda e: (str(e.event_id), e.to_json()))(
            factory.override_open(seq, "guard1", "night shift", 0)))
    ob.close()
    agent = GateAgent(cfg, engine=face)
    runner = threading.Thread(target=lambda: agent.run(exit_when_drained=True, drain_timeout_s=120))
    runner.start()
    worker = IngestWorker(make_settings(db_url, f"mqtt://127.0.0.1:{port}", uid, [site]), sessions).start()
    try:
        assert wait_for(lambda: agent.counters.decisions == 5, timeout=60)
        assert (agent.counters.events, agent.counters.outbox_full) == (2, 3)
        assert len(agent.door.actuations) == 2  # no record, no opening: the three others stay outside
        assert agent.state()["outbox"]["near_full"] is True  # what its telemetry tells the server
        proxy.mend()  # back online: everything drains
        runner.join(150)
        assert not runner.is_alive()
    finally:
        agent.stop()
        runner.join(10)
        worker.stop()
        proxy.close()
        broker.stop()
    assert_exactly_once(sessions, gate, 10)


@sqlite_only
def test_the_camera_unplugged_mid_run_is_reported_and_comes_back(db_url, sessions, broker_url, uid, tmp_path,
                                                                faces_dir, face):
    server_script = Path(__file__).parents[1] / "capture" / "mjpeg_server.py"
    port = free_port()
    photo = str(faces_dir / "knn_examples/test/obama1.jpg")

    def camera():
        p = subprocess.Popen([sys.executable, str(server_script), str(port), photo], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        return p

    site, gate = f"s{uid}", f"g{uid}"
    cam = camera()
    cfg = load_gate_config(gate_file(tmp_path, site, gate, f"http://127.0.0.1:{port}/video", broker_url, faces_dir,
                                     thermal={"sensor": "none"}, camera={"stall_timeout_s": 1.0}))
    agent = GateAgent(cfg, engine=face)
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        assert wait_for(lambda: agent.counters.frames > 5, timeout=30)
        cam.kill()  # unplugged
        cam.wait(5)
        assert wait_for(lambda: agent.state()["camera"]["state"] in ("reconnecting", "stalled"), timeout=15)
        frames = agent.counters.frames
        cam = camera()  # plugged in again
        assert wait_for(lambda: agent.state()["camera"]["state"] == "running" and agent.counters.frames > frames + 5,
                        timeout=30)
        assert agent.state()["camera"]["reconnects"] >= 1
    finally:
        agent.stop()
        runner.join(20)
        cam.kill()
