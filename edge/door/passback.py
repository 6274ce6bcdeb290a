"""Anti-passback memory shared by the in and the out gate of one box: two agents, one SQLite file.

The rules run on the monotonic clock (a door's seconds must not jump with NTP), which restarts at
boot; the file keeps wall-clock times, converted at the boundary, so a reboot neither forgets
who is inside nor makes old passages look new.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path


class SqlitePassbackStore:
    def __init__(self, path: Path, *, clock=time.monotonic, wall=time.time):
        self._clock, self._wall = clock, wall
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # WAL and a busy timeout: the partner agent writes the same file
        self._db = sqlite3.connect(str(path), timeout=2.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS passages (person TEXT PRIMARY KEY, direction TEXT NOT NULL,"
                         " wall_at REAL NOT NULL)")
        self._lock = threading.Lock()

    def last(self, person: str) -> tuple[str, float] | None:
        with self._lock:
            row = self._db.execute("SELECT direction, wall_at FROM passages WHERE person = ?", (person,)).fetchone()
        if row is None:
            return None
        return row[0], self._clock() - (self._wall() - row[1])

    def record(self, person: str, direction: str, at: float) -> None:
        wall_at = self._wall() - (self._clock() - at)
        with self._lock:
            self._db.execute("INSERT INTO passages (person, direction, wall_at) VALUES (?, ?, ?) ON CONFLICT(person)"
                             " DO UPDATE SET direction = excluded.direction, wall_at = excluded.wall_at",
                             (person, direction, wall_at))

    def close(self) -> None:
        with self._lock:
            self._db.close()
