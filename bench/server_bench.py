"""Server benchmarks: ingestion events/s through the real broker, and the entry-log query p95.

    .venv/bin/python bench/server_bench.py                      # both databases, both measurements
    .venv/bin/python bench/server_bench.py --db sqlite --skip-query --events 20000

Ingestion: a fresh database with a registered compound (gates, residents in households), an
in-process IngestWorker (the production one: batching, reconciliation, quarantine, ctl/ack after
commit, manual PUBACK) subscribed to Mosquitto, and separate publisher processes sending
contract events at QoS 1 — 10 % of them duplicates, each with a face crop as gates send it.
Reported: events/s from the first publish to the last commit (every event counted, duplicates
included), plus a check that exactly the unique events are stored and every gate got its ack.

Query: 1,000,000 entries bulk-loaded (PostgreSQL COPY / SQLite executemany), then
GET /api/v1/entries over real HTTP (uvicorn + the API app, admin token) with the filters the UI
uses, first pages and cursor pages; p50/p95/p99 in ms.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import multiprocessing as mp
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PG_ADMIN = os.environ.get("MENWEI_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
MQTT = os.environ.get("MENWEI_BENCH_MQTT")  # default: a Mosquitto of our own (see own_broker)
MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")


@contextlib.contextmanager
def own_broker(tmp: Path):
    """Mosquitto on a free port with queues sized for a benchmark.

    Mosquitto's default max_queued_messages (1000 per client beyond the in-flight window) drops
    QoS 1 messages once a subscriber falls behind a flood; in production the gates' outboxes
    re-send what was dropped (nothing is acked that was not stored), but a benchmark that floods
    on purpose would only measure the drops. Production brokers should raise it too (SERVER.md).
    """
    port = _free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 1000\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"mosquitto did not start: {proc.stderr.read().decode()[:500]}") from None
            time.sleep(0.05)
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


# ------------------------------------------------------------------------------------ databases
def fresh_db(kind: str, tmp: Path) -> tuple[str, callable]:
    from server.db.session import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        upgrade(url)
        return url, lambda: None
    import psycopg

    name = f"menwei_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as e:  # one line, not a traceback: the database is not up
        print(f"{Path(sys.argv[0]).stem}: PostgreSQL at {PG_ADMIN} refused: {str(e).strip().splitlines()[0]}",
              file=sys.stderr)
        raise SystemExit(2) from None
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    def drop():
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    upgrade(url)
    return url, drop


def seed_registry(sessions, site: str, gates: list[str], residents: int) -> list[str]:
    from server.db.models import Building, Gate, Household, Resident, Site, Unit

    ids = []
    with sessions.begin() as s:
        s.add(Site(id=site, name=f"Bench compound {site}"))
        s.flush()
        for i, g in enumerate(gates):
            s.add(Gate(id=g, site_id=site, direction="in" if i % 2 == 0 else "out"))
        for b in range(max(1, residents // 100)):
            building = Building(site_id=site, name=f"B{b}")
            for u in range(10):
                unit = Unit(building=building, name=f"{u + 1}01")
                hh = Household(unit=unit, name="main")
                s.add(hh)
                for p in range(10):
                    rid = f"{site}-r{b}-{u}-{p}"
                    ids.append(rid)
                    s.add(Resident(id=rid, site_id=site, name=f"Resident {rid}", household=hh))
    return ids


def face_crop() -> bytes:
    """A real face crop as gates send it (~5 KB JPEG), from the shared test photos if present."""
    import cv2
    import numpy as np

    path = REPO / "tests" / "data" / "faces" / "knn_examples" / "train" / "obama" / "obama.jpg"
    img = cv2.imread(str(path)) if path.exists() else (np.random.default_rng(0).random((160, 160, 3)) * 255
                                                        ).astype("uint8")
    img = cv2.resize(img, (160, 160))
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return data.tobytes()


# ------------------------------------------------------------------------------------ ingestion
def make_payloads(site: str, gates: list[str], residents: list[str], unique: int, dup_ratio: float,
                  crop: bytes) -> list[tuple[str, bytes]]:
    from menwei.wire import uuid7

    rng = random.Random(42)
    crop_b64 = base64.b64encode(crop).decode()
    seqs = dict.fromkeys(gates, 0)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    events = []
    for i in range(unique):
        g = gates[i % len(gates)]
        seqs[g] += 1
        at = t0 + timedelta(milliseconds=i * 50)
        known = rng.random() < 0.95
        fever = rng.random() < 0.01
        ev = {"schema": "menwei.entry/1", "event_id": str(uuid7(int(at.timestamp() * 1000))), "site_id": site,
              "gate_id": g, "seq": seqs[g], "captured_at": at.isoformat(timespec="milliseconds"),
              "direction": "in" if gates.index(g) % 2 == 0 else "out",
              "decision": "granted" if known and not fever else "alert",
              "reasons": ["face_match"] if known else ["no_match"],
              "person": {"resident_id": rng.choice(residents) if known else None,
                         "score": 0.95 if known else None, "gallery_version": 1, "pack": "dlib-resnet"},
              "temperature": {"celsius": 38.2 if fever else 36.6, "status": "fever" if fever else "normal",
                              "method": "canthus"},
              "face_jpeg": crop_b64, "track": {"frames": 8, "duration_ms": 400}}
        events.append((f"menwei/v1/{site}/{g}/evt/entry", json.dumps(ev).encode()))
    # duplicates: re-sends of events already sent (a gate that lost an ack), 10 % of all messages
    n_dup = round(unique * dup_ratio / (1 - dup_ratio))
    out = list(events)
    for _ in range(n_dup):
        pos = rng.randrange(len(events) // 2, len(out))
        out.insert(pos, events[rng.randrange(0, len(events) // 2)])
    return out


def _publisher(url: str, messages: list[tuple[str, bytes]], ready, go, done_q) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from menwei.mqtt import BrokerUrl

    b = BrokerUrl.parse(url)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}",
                    protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(b.host, b.port)
    c.loop_start()
    ready.set()
    go.wait()
    t0 = time.perf_counter()
    infos = [c.publish(t, p, qos=1) for t, p in messages]
    for i in infos:
        i.wait_for_publish(120)
    done_q.put(time.perf_counter() - t0)
    c.disconnect()
    c.loop_stop()


def bench_ingest(kind: str, tmp: Path, mqtt_url: str, unique: int, n_gates: int, dup_ratio: float,
                 publishers: int) -> dict:
    from sqlalchemy import func, select

    from server.config import load_settings
    from server.db.models import Entry, GateSeq
    from server.db.session import make_engine, session_factory
    from server.ingest.worker import IngestWorker

    url, drop = fresh_db(kind, tmp)
    engine = make_engine(url)
    sessions = session_factory(engine)
    tag = uuid.uuid4().hex[:6]
    site = f"bench{tag}"
    gates = [f"{site}-g{i}" for i in range(n_gates)]
    try:
        residents = seed_registry(sessions, site, gates, 2000)
        msgs = make_payloads(site, gates, residents, unique, dup_ratio, face_crop())
        total = len(msgs)
        settings = load_settings(env={}, db_url=url, mqtt_url=mqtt_url,
                                 ingest={"client_id": f"bench-ingest-{tag}", "sites": [site],
                                         "shared_group": f"bench{tag}", "rematch": False})
        worker = IngestWorker(settings, sessions).start()
        worker.subscribed.wait(10)
        time.sleep(0.3)
        ctx = mp.get_context("spawn")
        ready = [ctx.Event() for _ in range(publishers)]
        go = ctx.Event()
        done_q = ctx.Queue()
        # each publisher owns whole gates, so per-gate order is what a gate would send
        parts = [[m for m in msgs if int(m[0].split("/")[3].rsplit("-g", 1)[1]) % publishers == k]
                 for k in range(publishers)]
        procs = [ctx.Process(target=_publisher, args=(mqtt_url, parts[k], ready[k], go, done_q)) for k in range(publishers)]
        for p in procs:
            p.start()
        for r in ready:
            r.wait(60)
        t0 = time.perf_counter()
        go.set()
        while True:
            c = worker.counters()
            if c.get("stored", 0) + c.get("duplicates", 0) + c.get("rejected", 0) >= total:
                break
            if time.perf_counter() - t0 > 600:
                raise RuntimeError(f"ingest did not finish: {c}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        pub_times = [done_q.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
        counters = worker.counters()
        worker.stop()
        with sessions() as s:
            stored = s.scalar(select(func.count()).select_from(Entry).where(Entry.site_id == site))
            acked = dict(s.execute(select(GateSeq.gate_id, GateSeq.acked_seq)).all())
        expected_ack = {g: len([1 for i in range(unique) if i % n_gates == k]) for k, g in enumerate(gates)}
        return {"db": kind, "messages": total, "unique": unique, "duplicates_sent": total - unique,
                "stored": stored, "exact": stored == unique, "acks_complete": acked == expected_ack,
                "seconds": round(elapsed, 3), "events_per_s": round(total / elapsed),
                "publish_s": round(max(pub_times), 3), "batches": counters.get("batches"),
                "mean_batch": round(total / max(1, counters.get("batches", 1)), 1), "worker": counters}
    finally:
        engine.dispose()
        drop()


# ---------------------------------------------------------------------------------------- query
ENTRY_COLS = ("event_id", "site_id", "gate_id", "seq", "captured_at", "received_at", "direction", "decision",
              "reasons", "resident_id", "matched_by", "score", "gallery_version", "pack", "temperature_c",
              "temperature_status", "temperature_method", "has_alert")


def bulk_load(kind: str, url: str, sessions, n: int, n_sites: int = 20, gates_per_site: int = 5) -> dict:
    """n entries over 90 days, n_sites compounds; 5 % with an alert row. Returns the id pools."""
    from server.db.models import Gate, Site

    sites = [f"q{i:02d}" for i in range(n_sites)]
    gates = {s: [f"{s}-g{j}" for j in range(gates_per_site)] for s in sites}
    with sessions.begin() as s:
        for site in sites:
            s.add(Site(id=site, name=f"Compound {site}"))
        s.flush()
        for site in sites:
            for g in gates[site]:
                s.add(Gate(id=g, site_id=site, direction="both"))
    rng = random.Random(1)
    end = datetime.now(UTC).replace(microsecond=0)
    span = 90 * 86400
    residents = [f"p{i}" for i in range(20000)]
    seq = {g: 0 for gl in gates.values() for g in gl}

    def rows():
        for i in range(n):
            site = sites[i % n_sites]
            g = gates[site][rng.randrange(gates_per_site)]
            seq[g] += 1
            at = end - timedelta(seconds=span * (n - i) / n)
            known = rng.random() < 0.9
            alert = rng.random() < 0.05
            yield (uuid.uuid4(), site, g, seq[g], at, at + timedelta(seconds=1), "in" if i % 2 else "out",
                   "alert" if alert else ("granted" if known else "denied"), "[]",
                   rng.choice(residents) if known else None, "gate" if known else None,
                   0.95 if known else None, 1, "dlib-resnet", 36.6, "normal", "canthus", alert)

    t0 = time.perf_counter()
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            with conn.cursor() as cur, cur.copy(f"COPY entries ({', '.join(ENTRY_COLS)}) FROM STDIN") as cp:
                for r in rows():
                    cp.write_row(r)
            conn.execute("INSERT INTO alerts (kind, entry_id, site_id, gate_id, resident_id, created_at, detail) "
                         "SELECT 'fever', id, site_id, gate_id, resident_id, received_at, '{}' FROM entries "
                         "WHERE has_alert")
            conn.commit()
            conn.execute("ANALYZE")
            conn.commit()
    else:
        import sqlite3

        path = url.split("sqlite:///", 1)[1]
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")  # bulk load only; the server runs FULL

        def fmt(r):
            # the exact text forms SQLAlchemy's Uuid and UtcDateTime store on SQLite
            r = list(r)
            r[0] = r[0].hex
            r[4] = r[4].replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            r[5] = r[5].replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            r[-1] = int(r[-1])
            return r

        sql = f"INSERT INTO entries ({', '.join(ENTRY_COLS)}) VALUES ({', '.join('?' * len(ENTRY_COLS))})"
        it = rows()
        while True:
            chunk = [fmt(r) for _, r in zip(range(50000), it, strict=False)]
            if not chunk:
                break
            conn.executemany(sql, chunk)
        conn.execute("INSERT INTO alerts (kind, entry_id, site_id, gate_id, resident_id, created_at, detail) "
                     "SELECT 'fever', id, site_id, gate_id, resident_id, received_at, '{}' FROM entries "
                     "WHERE has_alert")
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    return {"sites": sites, "gates": gates, "residents": residents, "end": end,
            "load_s": round(time.perf_counter() - t0, 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_query(kind: str, tmp: Path, n: int, queries: int) -> dict:
    import httpx
    import uvicorn

    from server.api.app import create_app
    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.api.settings import ApiSettings
    from server.db.session import make_engine, session_factory

    url, drop = fresh_db(kind, tmp)
    engine = make_engine(url, pool_size=8) if kind == "postgresql" else make_engine(url)
    sessions = session_factory(engine)
    server = None
    try:
        pools = bulk_load(kind, url, sessions, n)
        with sessions.begin() as s:
            create_user(s, "bench-admin", "bench-password-1", Role.ADMIN, [], rounds=4)
        app = create_app(ApiSettings(secret="b" * 40, bcrypt_rounds=4), sessions)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))
        th = threading.Thread(target=server.run, daemon=True)
        th.start()
        while not server.started:
            time.sleep(0.05)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        tok = client.post("/api/v1/auth/token", data={"username": "bench-admin", "password": "bench-password-1"})
        tok.raise_for_status()
        client.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"
        rng = random.Random(3)
        end = pools["end"]

        def params():
            site = rng.choice(pools["sites"])
            kind_ = rng.randrange(7)
            p = {"site": site, "limit": 50}
            if kind_ == 1:
                p["gate"] = rng.choice(pools["gates"][site])
            elif kind_ == 2:
                p.pop("site")
                p["resident"] = rng.choice(pools["residents"])
            elif kind_ == 3:
                day = end - timedelta(days=rng.randrange(1, 89))
                p["since"], p["until"] = day.isoformat(), (day + timedelta(days=1)).isoformat()
            elif kind_ == 4:
                p["alerts_only"] = "true"
            elif kind_ == 5:
                p["decision"] = "denied"
            elif kind_ == 6:
                p.pop("site")  # the admin's unfiltered newest-first view
            return p

        for _ in range(10):  # warm-up (connection pool, plans, caches)
            client.get("/api/v1/entries", params=params()).raise_for_status()
        times, pages, empty = [], 0, 0
        for _ in range(queries):
            p = params()
            t0 = time.perf_counter()
            r = client.get("/api/v1/entries", params=p)
            times.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
            body = r.json()
            empty += not body["items"]  # the figures only count if the queries find rows
            if body["next_cursor"] and rng.random() < 0.5:  # and the next page
                t0 = time.perf_counter()
                r2 = client.get("/api/v1/entries", params={**p, "cursor": body["next_cursor"]})
                times.append((time.perf_counter() - t0) * 1000)
                r2.raise_for_status()
                pages += 1
        times.sort()
        q = statistics.quantiles(times, n=100)
        return {"db": kind, "entries": n, "load_s": pools["load_s"], "requests": len(times), "cursor_pages": pages,
                "empty_first_pages": empty,
                "p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "p99_ms": round(q[98], 1),
                "max_ms": round(times[-1], 1)}
    finally:
        if server is not None:
            server.should_exit = True
            time.sleep(0.3)
        engine.dispose()
        drop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--events", type=int, default=20000, help="unique events per ingest run")
    ap.add_argument("--dup", type=float, default=0.10, help="share of published messages that are duplicates")
    ap.add_argument("--gates", type=int, default=10)
    ap.add_argument("--publishers", type=int, default=2, help="publisher processes")
    ap.add_argument("--entries", type=int, default=1_000_000, help="rows for the query benchmark")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-query", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    with tempfile.TemporaryDirectory(prefix="menwei-bench-") as tmp, contextlib.ExitStack() as stack:
        mqtt_url = MQTT or (None if args.skip_ingest else stack.enter_context(own_broker(Path(tmp))))
        for kind in kinds:
            if not args.skip_ingest:
                r = bench_ingest(kind, Path(tmp), mqtt_url, args.events, args.gates, args.dup, args.publishers)
                results.append({"bench": "ingest", **r})
                if not args.json:
                    print(f"ingest  {kind:10s} {r['events_per_s']:>7,d} events/s  ({r['messages']:,} messages, "
                          f"{r['duplicates_sent']:,} duplicates, {r['seconds']} s, mean batch {r['mean_batch']}; "
                          f"stored exactly the unique ones: {r['exact']}, acks complete: {r['acks_complete']})",
                          flush=True)
            if not args.skip_query:
                r = bench_query(kind, Path(tmp), args.entries, args.queries)
                results.append({"bench": "entries_query", **r})
                if not args.json:
                    print(f"query   {kind:10s} GET /api/v1/entries over {r['entries']:,} entries: p50 {r['p50_ms']} ms, "
                          f"p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms "
                          f"({r['requests']} requests, {r['cursor_pages']} cursor pages, {r['empty_first_pages']} empty; "
                          f"load {r['load_s']} s)",
                          flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
