"""Gate-service benchmarks (issue 10's targets): the outbox, decision → server commit, a backlog
drain, and the memory of a running agent. Everything real: the gate's Outbox (SQLite, WAL,
synchronous=FULL) on this disk, its GateLink, a Mosquitto of our own, the production
IngestWorker on a fresh database, and `menwei edge run` as a separate process.

    .venv/bin/python bench/link_bench.py                 # all four, SQLite on the server side
    .venv/bin/python bench/link_bench.py --db postgres --skip-agent
    .venv/bin/python bench/link_bench.py --json

1. outbox: events/s of Outbox.append with contract events carrying a ~5 KB face crop (each
   append is one fsynced transaction, as before a door opens).
2. online: a gate deciding `--rate` times per second while connected; per event, the time from
   the decision (before its outbox commit) until the server's ack covering it is applied at the
   gate. The server acks only after its database commit, so this is an upper bound of
   "decision → row committed on the server". p50/p95/max in ms.
3. drain: `--backlog` events written while the gate is offline, then the link starts; seconds
   until the outbox is empty (every event committed on the server and acked), and events/s.
4. agent: `menwei edge run` on the generated walk-up video against the same broker and worker;
   its resident memory (VmRSS) sampled every 0.2 s: peak and at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from server_bench import face_crop, fresh_db, own_broker, seed_registry  # noqa: E402

from edge.agent.events import EventFactory  # noqa: E402
from edge.link.outbox import Outbox  # noqa: E402
from edge.link.session import GateLink, LinkHandlers  # noqa: E402
from edge.pipeline.types import TrackDecision  # noqa: E402

FACES = REPO / "tests" / "data" / "faces"


def _decision(identity: str, i: int) -> TrackDecision:
    return TrackDecision(track_id=i, identity=identity, score=0.97, decision="granted", reasons=("resident_recognised",),
                         open_door=True, first_frame=0, first_good_frame=0, decided_frame=3, latency_ms=80.0,
                         latency_good_ms=80.0, temperature_c=36.5, temperature_status="normal", embeddings=1,
                         trigger="evidence")


class EventMaker:
    """Contract events as the agent builds them (EventFactory), each with a real face crop."""

    def __init__(self, site: str, gate: str, residents: list[str]):
        self.factory = EventFactory(site, gate, "in", "dlib-resnet", "sim")
        self.residents = residents
        self.crop = face_crop()

    def __call__(self, seq: int) -> tuple[str, bytes]:
        ev = self.factory.from_decision(seq, _decision(self.residents[seq % len(self.residents)], seq), 1, self.crop)
        return str(ev.event_id), ev.model_dump_json().encode()


def bench_outbox(tmp: Path, n: int) -> dict:
    ob = Outbox(tmp / f"outbox-{uuid.uuid4().hex[:6]}.sqlite", max_events=n + 1)
    make = EventMaker("benchsite", "benchgate", ["r1", "r2", "r3"])
    payloads = {seq: make(seq) for seq in range(1, n + 1)}  # built first: only the append is timed
    times = []
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        ob.append(lambda s: payloads[s])
        times.append(1000 * (time.perf_counter() - t))
    elapsed = time.perf_counter() - t0
    size = len(payloads[1][1])
    ob.close()
    return {"events": n, "payload_bytes": size, "seconds": round(elapsed, 3), "events_per_s": round(n / elapsed),
            "append_ms_p50": round(statistics.median(times), 2),
            "append_ms_p95": round(statistics.quantiles(times, n=20)[18], 2)}


class Server:
    """A fresh database with one compound and its gate, and the production ingest worker."""

    def __init__(self, kind: str, tmp: Path, mqtt_url: str):
        from server.config import load_settings
        from server.db.session import make_engine, session_factory
        from server.ingest.worker import IngestWorker

        self.url, self._drop = fresh_db(kind, tmp)
        self.engine = make_engine(self.url)
        self.sessions = session_factory(self.engine)
        tag = uuid.uuid4().hex[:6]
        self.site = f"bench{tag}"
        self.gates = {phase: f"bench{tag}-{phase}" for phase in ("online", "drain", "agent")}  # one seq each
        self.residents = seed_registry(self.sessions, self.site, list(self.gates.values()), 200)
        settings = load_settings(env={}, db_url=self.url, mqtt_url=mqtt_url,
                                 ingest={"client_id": f"bench-ingest-{tag}", "sites": [self.site],
                                         "shared_group": f"bench{tag}", "rematch": False})
        self.worker = IngestWorker(settings, self.sessions).start()

    def stored(self, gate: str) -> int:
        from sqlalchemy import func, select

        from server.db.models import Entry

        with self.sessions() as s:
            return s.scalar(select(func.count()).select_from(Entry).where(Entry.gate_id == gate)) or 0

    def close(self) -> None:
        self.worker.stop()
        self.engine.dispose()
        self._drop()


def _gate(tmp: Path, srv: Server, gate: str, mqtt_url: str, capacity: int) -> tuple[Outbox, GateLink]:
    ob = Outbox(tmp / f"{gate}.sqlite", max_events=capacity)
    link = GateLink(mqtt_url, srv.site, gate, ob, LinkHandlers(), client_id=f"bench-gate-{uuid.uuid4().hex[:6]}",
                    session_expiry_s=0)
    return ob, link


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        time.sleep(0.005)


def bench_online(tmp: Path, srv: Server, mqtt_url: str, n: int, rate: float) -> dict:
    ob, link = _gate(tmp, srv, srv.gates["online"], mqtt_url, n + 10)
    make = EventMaker(srv.site, srv.gates["online"], srv.residents)
    decided: dict[int, float] = {}
    acked_at: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:  # when each seq becomes acked at the gate (5 ms resolution)
        last = 0
        while not done.is_set():
            acked = ob.stats().acked_seq
            now = time.perf_counter()
            for seq in range(last + 1, acked + 1):
                acked_at[seq] = now
            last = acked
            time.sleep(0.005)

    link.start()
    _wait(lambda: link.stats.connected, 20, "the gate link did not connect")
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for _ in range(n):
            t = time.perf_counter()
            seq = ob.append(make)
            decided[seq] = t
            link.notify()
            time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - t)))
        _wait(lambda: len(acked_at) >= n, 60, "not every event was acked")
    finally:
        done.set()
        watcher.join(5)
        link.stop()
        ob.close()
    lat = sorted(1000 * (acked_at[s] - decided[s]) for s in decided)
    return {"events": n, "rate_per_s": rate, "decision_to_ack_ms_p50": round(statistics.median(lat), 1),
            "decision_to_ack_ms_p95": round(statistics.quantiles(lat, n=20)[18], 1),
            "decision_to_ack_ms_max": round(lat[-1], 1)}


def bench_drain(tmp: Path, srv: Server, mqtt_url: str, backlog: int) -> dict:
    gate = srv.gates["drain"]
    ob, link = _gate(tmp, srv, gate, mqtt_url, backlog + 10)
    make = EventMaker(srv.site, gate, srv.residents)
    for _ in range(backlog):  # the gate was offline
        ob.append(make)
    t0 = time.perf_counter()
    link.start()
    try:
        _wait(lambda: ob.stats().depth == 0, 900, "the backlog did not drain")
        elapsed = time.perf_counter() - t0
    finally:
        link.stop()
        ob.close()
    stored = srv.stored(gate)
    return {"backlog": backlog, "seconds": round(elapsed, 2), "events_per_s": round(backlog / elapsed),
            "stored_on_server": stored, "exact": stored == backlog, "resends": link.stats.resends}


def _rss_mb(pid: int) -> float | None:
    from edge.agent.host import rss_mb

    return rss_mb(Path(f"/proc/{pid}/status"))


def bench_agent(tmp: Path, srv: Server, mqtt_url: str) -> dict:
    import yaml

    from edge.capture.synthetic import named_scene

    scene = named_scene("walkup", FACES, width=640, height=360)
    video = scene.write_video(tmp / "walkup.avi")
    scene.save_truth(video.with_suffix(".truth.json"))  # the simulated thermal sensor renders from it
    gate_file = tmp / "gate.yaml"
    gate_file.write_text(yaml.safe_dump({
        "site": srv.site, "gate": srv.gates["agent"], "direction": "in", "data_dir": str(tmp / "agent-data"),
        "camera": {"source": str(video), "realtime": True}, "thermal": {"sensor": "sim"},
        "door": {"driver": "dry-run"}, "mqtt": {"url": mqtt_url},
        "gallery": {"folder": str(FACES / "knn_examples" / "train")}}))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "menwei", "edge", "run", "--config", str(gate_file),
                             "--exit-when-drained"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = []
    while proc.poll() is None:
        rss = _rss_mb(proc.pid)
        if rss is not None:
            samples.append(rss)
        time.sleep(0.2)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"menwei edge run failed: {proc.stderr.read().decode()[-500:]}")
    return {"video_s": round(scene.n_frames / scene.fps, 1),
            "run_s": round(elapsed, 1), "rss_mb_peak": max(samples), "rss_mb_last": samples[-1],
            "samples": len(samples)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="the server's database")
    ap.add_argument("--outbox-events", type=int, default=2000)
    ap.add_argument("--online-events", type=int, default=300)
    ap.add_argument("--rate", type=float, default=10.0, help="decisions per second while online")
    ap.add_argument("--backlog", type=int, default=10_000)
    ap.add_argument("--skip-agent", action="store_true")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = ap.parse_args()
    out: dict = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "db": args.db}
    with tempfile.TemporaryDirectory(prefix="menwei-link-bench-") as d:
        tmp = Path(d)
        out["outbox"] = bench_outbox(tmp, args.outbox_events)
        _report(args, "outbox", out["outbox"])
        with own_broker(tmp) as mqtt_url:
            srv = Server(args.db, tmp, mqtt_url)
            try:
                out["online"] = bench_online(tmp, srv, mqtt_url, args.online_events, args.rate)
                _report(args, "online", out["online"])
                out["drain"] = bench_drain(tmp, srv, mqtt_url, args.backlog)
                _report(args, "drain", out["drain"])
                if not args.skip_agent:
                    out["agent"] = bench_agent(tmp, srv, mqtt_url)
                    _report(args, "agent", out["agent"])
            finally:
                srv.close()
    if args.json:
        print(json.dumps(out))
    return 0


def _report(args, name: str, figures: dict) -> None:
    if not args.json:
        print(f"{name:7s} " + "  ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
