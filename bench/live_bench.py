"""Decided at the gate → on the guard's screen: the latency of the live feed (issue 13's ≤ 1 s target).

    .venv/bin/python bench/live_bench.py --decisions 40                 # SQLite
    .venv/bin/python bench/live_bench.py --decisions 40 --db postgres --json

Everything real: `menwei server run` as its own process (API, ingest worker, the SSE stream) on a
fresh database, a Mosquitto of our own, and a gate's own Outbox and GateLink (edge/link) deciding
`--rate` times a second. A guard's client reads `/api/v1/live/entries` exactly as the page does
(GET with the bearer token, server-sent events). Per decision: from just before the gate commits
it to its outbox (the moment it decided) until its `entry` event arrives on the guard's stream.
The page's own drawing of the row (a few ms) is not included. p50/p95/max in ms.
"""

from __future__ import annotations

import argparse
import json
import os
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

from link_bench import EventMaker  # noqa: E402
from server_bench import _free_port, fresh_db, own_broker, seed_registry  # noqa: E402

PASSWORD = "live-bench-pass"


class ServerProcess:
    """`menwei server run` against our broker and database; stopped with SIGTERM as systemd does."""

    def __init__(self, tmp: Path, db_url: str, mqtt_url: str):
        import httpx

        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MENWEI_")}
        env["PYTHONPATH"] = str(REPO)
        self.log = tmp / "server.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "menwei", "server", "run", "--db", db_url,
                                          "--mqtt", mqtt_url, "--data-dir", str(tmp / "server"),
                                          "--listen", f"127.0.0.1:{port}", "--no-retention"],
                                         env=env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped at start: {self.log.read_text()[-600:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError("the server did not answer within 120 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class GuardScreen:
    """The guard's live stream, read on its own thread; when each event_id arrived."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token
        self.arrived: dict[str, float] = {}
        self.ready = threading.Event()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._response = None

    def start(self) -> GuardScreen:
        self._thread.start()
        return self

    def _read(self) -> None:
        import httpx

        try:
            with httpx.stream("GET", f"{self.url}/api/v1/live/entries", timeout=httpx.Timeout(10, read=None),
                              headers={"Authorization": f"Bearer {self.token}"}) as r:
                if r.status_code != 200:
                    self.error = f"live stream answered {r.status_code}"
                    self.ready.set()
                    return
                event = None
                for line in r.iter_lines():
                    now = time.perf_counter()
                    if self._stop.is_set():
                        return
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        if event == "ready":
                            self.ready.set()
                        elif event == "entry":
                            self.arrived.setdefault(json.loads(line[6:])["event_id"], now)
                    elif not line:
                        event = None
        except Exception as exc:  # noqa: BLE001 - reported once as the bench's error line
            if not self._stop.is_set():
                self.error = f"{type(exc).__name__}: {exc}"
            self.ready.set()

    def stop(self) -> None:
        self._stop.set()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        time.sleep(0.005)


def run(kind: str, decisions: int, rate: float) -> dict:
    import httpx

    from edge.link.outbox import Outbox
    from edge.link.session import GateLink, LinkHandlers
    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.db.session import make_engine, session_factory

    with tempfile.TemporaryDirectory(prefix="menwei-live-bench-") as d:
        tmp = Path(d)
        db_url, drop = fresh_db("sqlite" if kind == "sqlite" else "postgresql", tmp)
        try:
            tag = uuid.uuid4().hex[:6]
            site, gate = f"live{tag}", f"live{tag}-north"
            engine = make_engine(db_url)
            sessions = session_factory(engine)
            residents = seed_registry(sessions, site, [gate], 200)
            with sessions() as s:
                create_user(s, f"guard-{tag}", PASSWORD, Role.GUARD, [site], rounds=4)
                s.commit()
            engine.dispose()
            with own_broker(tmp) as mqtt_url:
                server = ServerProcess(tmp, db_url, mqtt_url)
                screen = None
                try:
                    token = httpx.post(f"{server.url}/api/v1/auth/token",
                                       data={"username": f"guard-{tag}", "password": PASSWORD}).json()["access_token"]
                    screen = GuardScreen(server.url, token).start()
                    if not screen.ready.wait(20) or screen.error:
                        raise RuntimeError(screen.error or "the live stream sent no 'ready' within 20 s")
                    ob = Outbox(tmp / "gate-outbox.sqlite", max_events=decisions + 10)
                    link = GateLink(mqtt_url, site, gate, ob, LinkHandlers(), client_id=f"live-gate-{tag}",
                                    session_expiry_s=0)
                    make = EventMaker(site, gate, residents)
                    event_ids: dict[int, str] = {}

                    def maker(seq: int) -> tuple[str, bytes]:
                        event_ids[seq], payload = make(seq)
                        return event_ids[seq], payload

                    decided: dict[str, float] = {}
                    link.start()
                    try:
                        _wait(lambda: link.stats.connected, 20, "the gate did not connect")
                        for _ in range(decisions):
                            t = time.perf_counter()
                            seq = ob.append(maker)
                            decided[event_ids[seq]] = t
                            link.notify()
                            time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - t)))
                        _wait(lambda: all(e in screen.arrived for e in decided), 60,
                              "not every decision reached the guard's screen")
                    finally:
                        link.stop()
                        ob.close()
                finally:
                    if screen is not None:
                        screen.stop()
                    server.stop()
        finally:
            drop()
    lat = sorted(1000 * (screen.arrived[e] - t) for e, t in decided.items())
    return {"db": kind, "decisions": decisions, "rate_per_s": rate,
            "gate_to_screen_ms_p50": round(statistics.median(lat), 1),
            "gate_to_screen_ms_p95": round(statistics.quantiles(lat, n=20)[18], 1),
            "gate_to_screen_ms_max": round(lat[-1], 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decisions", type=int, default=40, help="decisions the gate makes")
    ap.add_argument("--rate", type=float, default=2.0, help="decisions per second (a busy gate at rush hour)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="the server's database")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of a line")
    args = ap.parse_args()
    if args.decisions < 2 or args.rate <= 0:
        print("live_bench: error: --decisions must be at least 2 and --rate above 0", file=sys.stderr)
        return 2
    try:
        figures = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **run(args.db, args.decisions, args.rate)}
    except RuntimeError as exc:
        print(f"live_bench: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(figures))
    else:
        print("live    " + "  ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
