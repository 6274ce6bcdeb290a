"""The gate's durable outbox: every entry event is committed here before the door acts, and leaves
only when the server's `ctl/ack` covers its seq.

SQLite in WAL mode with synchronous=FULL: a COMMIT that returned survives a power cut. The seq
counter lives in the same database and moves in the same transaction as the row, so a crash can
neither skip a seq nor use one twice; a row is there whole or not at all.

A capacity limit (`max_events`) raises OutboxFull instead of dropping anything: the agent then
keeps the door shut and reports the alarm (docs/GATE.md). `near_full` (90 %) is reported earlier.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from menwei.errors import MenweiError

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('last_seq', 0), ('acked_seq', 0);
"""


class OutboxFull(MenweiError):
    code = "outbox_full"


@dataclass(frozen=True)
class OutboxStats:
    last_seq: int  # the highest seq ever given (0: none yet)
    acked_seq: int  # the server has committed every seq up to this one
    depth: int  # events waiting for an ack
    oldest_seq: int | None  # the lowest seq waiting
    capacity: int  # 0: unknown (read from another process)

    @property
    def near_full(self) -> bool:
        return self.capacity > 0 and self.depth >= 0.9 * self.capacity

    def as_json(self) -> dict:
        return {"depth": self.depth, "oldest_seq": self.oldest_seq, "capacity": self.capacity,
                "near_full": self.near_full}


class Outbox:
    """Thread-safe; one instance per gate and data dir (a second process would share the seq)."""

    def __init__(self, path: Path, *, max_events: int = 100_000):
        if max_events < 1:
            raise ValueError("max_events must be >= 1")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_events = max_events
        self._lock = threading.Lock()
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE … COMMIT), nothing implicit
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # an acked row's face crop is overwritten, not left in a free page: Debian's SQLite does
        # this by default, other builds do not
        self._db.execute("PRAGMA secure_delete=ON")
        # one transaction: a reader in another process sees no schema or all of it
        self._db.executescript(f"BEGIN IMMEDIATE;{SCHEMA}COMMIT;")
        self.path.chmod(0o600)  # face crops of passers-by: not for other accounts on the box

    # ---- writing
    def append(self, make_payload: Callable[[int], tuple[str, bytes]], *,
               _before_commit: Callable[[], None] | None = None) -> int:
        """Give the next seq to `make_payload(seq) -> (event_id, payload)` and commit the row.

        Returns the seq once the row is on disk. Raises OutboxFull at capacity (nothing written).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                depth = self._db.execute("SELECT count(*) FROM events").fetchone()[0]
                if depth >= self.max_events:
                    raise OutboxFull(f"outbox full: {depth} events wait for the server's ack "
                                     f"(capacity {self.max_events}); is the gate offline?")
                seq = self._counter("last_seq") + 1
                event_id, payload = make_payload(seq)
                self._db.execute("INSERT INTO events VALUES (?, ?, ?, ?)", (seq, event_id, payload, time.time()))
                self._db.execute("UPDATE counters SET value = ? WHERE name = 'last_seq'", (seq,))
                if _before_commit is not None:
                    _before_commit()  # tests: a crash inside the write
                self._db.execute("COMMIT")
                return seq
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def ack(self, acked_seq: int) -> int:
        """The server committed every seq <= acked_seq: drop those rows (face crops with them).
        Returns how many rows left. An ack below the stored one changes nothing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                current = self._counter("acked_seq")
                if acked_seq <= current:
                    self._db.execute("COMMIT")
                    return 0
                # an ack past our last seq would be another gate's or a re-imaged box's: cap it
                upto = min(acked_seq, self._counter("last_seq"))
                n = self._db.execute("DELETE FROM events WHERE seq <= ?", (upto,)).rowcount
                self._db.execute("UPDATE counters SET value = ? WHERE name = 'acked_seq'", (upto,))
                self._db.execute("COMMIT")
                return n
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # ---- reading
    def pending(self, after_seq: int, limit: int) -> list[tuple[int, bytes]]:
        """Unacked events with seq > after_seq, oldest first."""
        with self._lock:
            return self._db.execute("SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (after_seq, limit)).fetchall()

    def stats(self) -> OutboxStats:
        with self._lock:
            depth, oldest = self._db.execute("SELECT count(*), min(seq) FROM events").fetchone()
            return OutboxStats(self._counter("last_seq"), self._counter("acked_seq"), depth, oldest,
                               self.max_events)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _counter(self, name: str) -> int:
        return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]


def read_stats(path: Path) -> OutboxStats | None:
    """The outbox's figures from another process (`menwei edge status`), read-only; None if absent
    or not created yet (the agent is starting)."""
    if not Path(path).exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"events", "counters"} <= tables:
            return None
        depth, oldest = db.execute("SELECT count(*), min(seq) FROM events").fetchone()
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        return OutboxStats(counters["last_seq"], counters["acked_seq"], depth, oldest, 0)
    finally:
        db.close()
