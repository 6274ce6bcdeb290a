"""Web UI paint benchmark: first contentful paint and "data shown" per page, with N entries.

    .venv/bin/python bench/web_paint_bench.py --db postgresql --entries 1000000 --explain
    .venv/bin/python bench/web_paint_bench.py --db sqlite --entries 200000 --runs 3

A fresh database of its own (SQLite file in a temporary folder, or a PostgreSQL database
`menwei_paint_<random>` created on MENWEI_BENCH_PG and dropped afterwards) gets four compounds with
an entry and an exit gate each, 2,000 residents per compound with Chinese names, and N entries
over the last 60 days bulk-loaded (PostgreSQL COPY, SQLite executemany; 85 % named residents,
decisions 85/10/5 % granted/denied/alert, the last two hours of compound A with a face crop, so
the log's first page fetches real thumbnails). Then `menwei server run` on it, and Debian's
Chromium (Playwright, /usr/bin/chromium) opens each page with the user's token already in the
tab, `--runs` times; the median is reported:

* fcp_ms: the browser's first-contentful-paint entry (navigation start → first text or image);
* shown_ms: navigation start → the DOM first holds the page's data (a MutationObserver notes the
  instant the selector matches, before the paint that shows it): the log's first row; the
  dashboard's day figures, which appear (as zeros) even on a day without entries;
* for the gate filter and the name search (a form on the loaded log, not a page load): submit →
  the new rows are in (the count line under the table is rewritten after the rows).
* api_ms: the same API calls over HTTP with httpx, median of `--runs` (what the page waits for).

`--explain` also runs the pages' API calls in-process, captures every SQL statement that reads
`entries` or `entry_reviews`, and prints its plan (PostgreSQL EXPLAIN (ANALYZE, BUFFERS); SQLite
EXPLAIN QUERY PLAN) with the same parameters, so a sequential scan or a sort over the whole
table shows. `--keep` leaves the database (its URL is printed) for another run with `--reuse URL`.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "bench"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from server_bench import fresh_db  # noqa: E402  (one way to make and drop a bench database)

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "paint-bench-pass"
SITES = ["paint-a", "paint-b", "paint-c", "paint-d"]
RESIDENTS_PER_SITE = 2000
DAYS = 60
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "建国秀英明华志强丽娟敏静军伟芳磊洋艳勇杰娜涛超霞平刚桂兰"

ENTRY_COLS = ("event_id", "site_id", "gate_id", "seq", "captured_at", "received_at", "direction", "decision",
              "reasons", "resident_id", "matched_by", "score", "gallery_version", "pack", "temperature_c",
              "temperature_status", "temperature_method", "has_alert", "face_jpeg")


def fail(msg: str) -> None:
    print(f"web_paint_bench: {msg}", file=sys.stderr)
    raise SystemExit(2)


# ----------------------------------------------------------------------------------- database
def name_of(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)] + GIVEN[(i * 7 + 3) % len(GIVEN)]


def seed_registry(sessions) -> dict[str, list[str]]:
    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.db.models import Gate, Resident, Site

    residents = {}
    with sessions.begin() as s:
        for site in SITES:
            s.add(Site(id=site, name=f"小区 {site}"))
        s.flush()
        for site in SITES:
            s.add_all([Gate(id=f"{site}-in", site_id=site, direction="in"),
                       Gate(id=f"{site}-out", site_id=site, direction="out")])
            residents[site] = [f"{site}-r{i}" for i in range(RESIDENTS_PER_SITE)]
            s.add_all([Resident(id=rid, site_id=site, name=name_of(i)) for i, rid in enumerate(residents[site])])
    with sessions() as s:
        create_user(s, "officer", PASSWORD, Role.COMMUNITY_OFFICER, [SITES[0]], rounds=4)
        create_user(s, "company", PASSWORD, Role.PROPERTY_MANAGER, SITES[:2], rounds=4)
        s.commit()
    return residents


def face_crop() -> bytes:
    import cv2

    img = cv2.imread(str(REPO / "tests" / "data" / "faces" / "knn_examples" / "train" / "obama" / "obama.jpg"))
    if img is None:
        fail("tests/data/faces is missing (the face crops come from it)")
    ok, data = cv2.imencode(".jpg", cv2.resize(img, (160, 160)), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return data.tobytes()


def bulk_load(kind: str, url: str, n: int, residents: dict[str, list[str]]) -> float:
    rng = random.Random(13)
    end = datetime.now(UTC).replace(microsecond=0)
    span = DAYS * 86400
    face = face_crop()
    seq: dict[str, int] = {}

    def rows():
        for i in range(n):
            site = SITES[i % len(SITES)]
            out = rng.random() < 0.5
            gate = f"{site}-{'out' if out else 'in'}"
            seq[gate] = seq.get(gate, 0) + 1
            at = end - timedelta(seconds=span * (n - i) / n)
            known = rng.random() < 0.85
            x = rng.random()
            decision = "granted" if x < 0.85 else ("denied" if x < 0.95 else "alert")
            fever = rng.random() < 0.005
            with_face = site == SITES[0] and (end - at).total_seconds() < 7200
            yield (uuid.uuid4(), site, gate, seq[gate], at, at + timedelta(seconds=1), "out" if out else "in",
                   decision, json.dumps(["resident_recognised"] if known else ["unknown_face"]),
                   rng.choice(residents[site]) if known else None, "gate" if known else None,
                   0.8 if known else None, 1, "dlib-resnet", 38.2 if fever else 36.6,
                   "fever" if fever else "normal", "canthus", decision == "alert", face if with_face else None)

    t0 = time.perf_counter()
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(url) as conn:
            with conn.cursor() as cur, cur.copy(f"COPY entries ({', '.join(ENTRY_COLS)}) FROM STDIN") as cp:
                for r in rows():
                    cp.write_row(r)
            conn.commit()
            conn.execute("ANALYZE")
            conn.commit()
    else:
        import sqlite3

        conn = sqlite3.connect(url.split("sqlite:///", 1)[1])
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")  # bulk load only; the server runs FULL

        def fmt(r):
            r = list(r)  # the text forms SQLAlchemy's Uuid and UtcDateTime store on SQLite
            r[0] = r[0].hex
            r[4] = r[4].replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            r[5] = r[5].replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            r[17] = int(r[17])
            return r

        sql = f"INSERT INTO entries ({', '.join(ENTRY_COLS)}) VALUES ({', '.join('?' * len(ENTRY_COLS))})"
        it = rows()
        while chunk := [fmt(r) for _, r in zip(range(50000), it, strict=False)]:
            conn.executemany(sql, chunk)
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------- pages
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token(url: str, user: str) -> str:
    import httpx

    r = httpx.post(f"{url}/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    if r.status_code != 200:
        fail(f"login of {user} failed: {r.status_code} {r.text[:200]}")
    return r.json()["access_token"]


# Notes when each selector first matches (performance.now(), from navigation start).
MARKS = """
window.__marks = {};
const __want = %s;
const __look = () => { for (const [k, sel] of Object.entries(__want))
  if (!(k in window.__marks) && document.querySelector(sel)) window.__marks[k] = performance.now(); };
new MutationObserver(__look).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
sessionStorage.setItem("menwei-token", %s);
localStorage.setItem("menwei-lang", "en");
"""

# submit the log's filters with `fields` set; ms until the count line under the rows is rewritten
SUBMIT = """async (fields) => {
  const f = document.getElementById("entry-filters"), count = document.getElementById("entry-count");
  for (const [k, v] of Object.entries(fields)) f[k].value = v;
  count.textContent = "";
  const done = new Promise((ok) => new MutationObserver((_, obs) => {
    if (count.textContent) { obs.disconnect(); ok(performance.now()); } }).observe(count, { childList: true, characterData: true, subtree: true }));
  const t0 = performance.now();
  f.requestSubmit();
  const t1 = await done;
  return [t1 - t0, document.querySelectorAll("#entry-rows tr").length];
}"""


def open_page(browser, url: str, tok: str, route: str, marks: dict[str, str], timeout_ms: int = 60000):
    ctx = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    ctx.add_init_script(MARKS % (json.dumps(marks), json.dumps(tok)))
    page = ctx.new_page()
    page.goto(f"{url}/ui/#/{route}")
    for sel in marks.values():
        page.wait_for_selector(sel, timeout=timeout_ms, state="attached")
    fcp = page.evaluate("() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime ?? null")
    got = page.evaluate("window.__marks")
    return ctx, page, fcp, got


def measure_pages(url: str, runs: int, search_name: str) -> list[dict]:
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        fail(f"{CHROMIUM} not found: apt-get install chromium")
    toks = {u: token(url, u) for u in ("officer", "company")}
    results: dict[str, dict[str, list[float]]] = {}

    def add(page_name: str, key: str, value: float | None) -> None:
        if value is not None:
            results.setdefault(page_name, {}).setdefault(key, []).append(value)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            for _ in range(runs):
                ctx, page, fcp, got = open_page(browser, url, toks["officer"], "entries",
                                                {"rows": "#entry-rows tr", "inside": "#inside-rows tr"})
                add("entry log (officer)", "fcp_ms", fcp)
                add("entry log (officer)", "shown_ms", got.get("rows"))
                add("who is inside (officer, same page)", "shown_ms", got.get("inside"))
                ms, n = page.evaluate(SUBMIT, {"gate": f"{SITES[0]}-out"})
                add("entry log filtered by gate (submit)", "shown_ms", ms if n else None)
                ms, n = page.evaluate(SUBMIT, {"gate": "", "name": search_name})
                add("name search (submit)", "shown_ms", ms if n else None)
                ctx.close()
                for who, label in (("officer", "dashboard (officer)"), ("company", "dashboard (property company)")):
                    ctx, page, fcp, got = open_page(browser, url, toks[who], "dashboard",
                                                    {"figures": "#dash-totals .figure"})
                    add(label, "fcp_ms", fcp)
                    add(label, "shown_ms", got.get("figures"))
                    ctx.close()
        finally:
            browser.close()
    return [{"page": k, **{m: round(statistics.median(v), 1) for m, v in ms.items()}} for k, ms in results.items()]


def page_calls(search_name: str) -> list[tuple[str, str, str]]:
    """(user, label, API path) of what the pages ask for (the dashboard for today, in UTC)."""
    today = datetime.now(UTC).date()
    week = today - timedelta(days=6)
    since = datetime.combine(week, datetime.min.time(), UTC).isoformat().replace("+00:00", "Z")
    dash = [("/stats/hourly", f"/stats/hourly?day={today}&tz=UTC"),
            ("/stats/daily", f"/stats/daily?since={week}&until={today}&tz=UTC"),
            ("/stats/reviews", f"/stats/reviews?since={since}")]
    return ([("officer", "log", "/entries?limit=50"),
             ("officer", "log, gate", f"/entries?limit=50&gate={SITES[0]}-out"),
             ("officer", "log, name", f"/entries?limit=50&name={search_name}"),
             ("officer", "log, resident", f"/entries?limit=50&resident={SITES[0]}-r7"),
             ("officer", "inside", f"/sites/{SITES[0]}/inside?days=30")]
            + [("officer", f"dash {k}", v) for k, v in dash] + [("company", f"dash {k}", v) for k, v in dash])


def measure_api(url: str, runs: int, search_name: str) -> list[dict]:
    import httpx

    toks = {u: token(url, u) for u in ("officer", "company")}
    out = []
    with httpx.Client(base_url=f"{url}/api/v1", timeout=120) as c:
        for user, label, path in page_calls(search_name):
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                r = c.get(path, headers={"Authorization": f"Bearer {toks[user]}"})
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    fail(f"GET {path} as {user}: {r.status_code} {r.text[:200]}")
            out.append({"user": user, "call": label, "api_ms": round(statistics.median(times), 1)})
    return out


def explain(db_url: str, search_name: str) -> None:
    """The pages' API calls in-process; each statement reading entries is explained as it ran."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from server.api.app import create_app
    from server.api.settings import ApiSettings
    from server.db.session import make_engine, session_factory

    engine = make_engine(db_url)
    seen: list[tuple[str, object]] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cur, stmt, params, ctx, many: seen.append((stmt, params)))
    app = create_app(ApiSettings(secret="b" * 40, bcrypt_rounds=4, timezone="UTC"), session_factory(engine))
    pg = engine.dialect.name == "postgresql"
    with TestClient(app) as client:
        heads = {}
        for user in ("officer", "company"):
            r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
            heads[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for user, label, path in page_calls(search_name):
            seen.clear()
            r = client.get(f"/api/v1{path}", headers=heads[user])
            statements = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")
                          and ("FROM entries" in s or "entry_reviews" in s)]
            print(f"\n=== {label} as {user}: GET {path} → {r.status_code}")
            for stmt, params in statements:
                with engine.connect() as conn:
                    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
                    plan = conn.exec_driver_sql(prefix + stmt, params).all()
                print("--- " + " ".join(stmt.split())[:300])
                for row in plan:
                    print("   ", row[0] if pg else f"{row[1]:>3} {row[3]}")
    engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--explain", action="store_true", help="print the plans of the pages' entries queries")
    ap.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    ap.add_argument("--reuse", metavar="URL", help="a database a --keep run left (no seeding)")
    args = ap.parse_args()
    if args.entries < 1 or args.runs < 1:
        fail("--entries and --runs must be at least 1")
    from menwei.demo_system import start_server

    search_name = name_of(7)  # one resident's full name: a handful of matches in compound A
    tmp = Path(tempfile.mkdtemp(prefix="menwei-paint-"))
    drop = lambda: None  # noqa: E731
    try:
        if args.reuse:
            db_url = args.reuse
        else:
            db_url, drop = fresh_db(args.db, tmp)
            from server.db.session import make_engine, session_factory

            engine = make_engine(db_url)
            residents = seed_registry(session_factory(engine))
            engine.dispose()
            load_s = bulk_load(args.db, db_url, args.entries, residents)
            print(f"loaded {args.entries} entries into {args.db} in {load_s:.0f} s", flush=True)
        if args.explain:
            explain(db_url, search_name)
        server = start_server(tmp, db_url, _free_port(), _free_port())
        try:
            api = measure_api(server.url, args.runs, search_name)
            pages = measure_pages(server.url, args.runs, search_name)
        finally:
            server.proc.terminate()
            server.proc.wait(30)
        print(json.dumps({"db": args.db if not args.reuse else db_url.split(":")[0], "entries": args.entries,
                          "runs": args.runs, "search_name": search_name, "pages": pages, "api": api},
                         ensure_ascii=False, indent=1))
    finally:
        if args.keep or args.reuse:
            print(f"database kept: {db_url}")
        else:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
