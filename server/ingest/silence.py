"""Gates that stopped talking without a Last Will: marked offline after ``gate_offline_after_s``.

The Will covers a gate whose TCP connection the broker sees die. It does not reach the server when
the broker itself reloads or restarts, when a Will is lost between a bridge and the central broker,
or when the worker was down and the retained status still says "online": such a gate would show
online forever. A gate publishes telemetry every 2 s while it runs (edge/agent/agent.py,
``_housekeeping``), so a gate silent for many times that is offline whatever its status says.

The transition is the same conditional UPDATE as the Will's (``state = 'online'`` → ``offline``):
with several workers, or a Will and this check racing, exactly one sees rowcount 1 and raises the
``gate_offline`` alert. The status row it writes says ``reason: silent``, which is how the telemetry
path knows that a gate which speaks again is back (server/ingest/health.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from server.db.models import DeviceHealth, Gate
from server.db.types import utcnow
from server.ingest.alerts import gate_offline_alert

log = logging.getLogger(__name__)

SILENT = "silent"  # last_status.reason of a gate this check marked offline


def silent_status(after_s: float, last_seen_at: datetime | None) -> dict:
    return {"state": "offline", "reason": SILENT, "after_s": after_s,
            "last_seen_at": last_seen_at.isoformat() if last_seen_at else None}


def mark_silent_gates(session: Session, now: datetime, after_s: float,
                      sites: Sequence[str] | None = None) -> list[str]:
    """Mark offline every online gate not heard from for ``after_s`` seconds; the ids marked."""
    cutoff = now - timedelta(seconds=after_s)
    # last_seen_at is set by every online status and every telemetry; status_at covers a row
    # written before last_seen_at existed
    quiet = or_(Gate.last_seen_at < cutoff, Gate.last_seen_at.is_(None) & (Gate.status_at < cutoff))
    q = select(Gate.id, Gate.site_id, Gate.last_seen_at).where(Gate.state == "online", quiet)
    if sites:
        q = q.where(Gate.site_id.in_(sites))
    marked = []
    for gate_id, site_id, last_seen in session.execute(q).all():
        status = silent_status(after_s, last_seen)
        # re-checked in the UPDATE: a status or telemetry committed since the SELECT wins
        flipped = session.execute(update(Gate).where(Gate.id == gate_id, Gate.state == "online", quiet)
                                  .values(state="offline", last_status=status, status_at=now)).rowcount
        if not flipped:
            continue
        session.execute(insert(DeviceHealth.__table__),
                        [{"gate_id": gate_id, "at": now, "kind": "status", "state": "offline", "data": status}])
        gate_offline_alert(session, site_id, gate_id, status, now)
        marked.append(gate_id)
    return marked


class SilenceWatch:
    """Runs ``mark_silent_gates`` every ``period_s`` in its own thread (one transaction a round)."""

    def __init__(self, sessions: sessionmaker[Session], after_s: float, *, sites: Sequence[str] | None = None,
                 clock: Callable[[], datetime] = utcnow, period_s: float | None = None):
        self._sessions = sessions
        self.after_s = after_s
        self.sites = list(sites) if sites else None
        self.clock = clock
        # a gate is reported at most a period late; a quarter of the timeout, at most 5 s
        self.period_s = period_s if period_s is not None else min(5.0, after_s / 4)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._since: datetime | None = None

    def check(self) -> list[str]:
        # a worker that was down has heard nobody: every gate gets the whole timeout from the
        # moment this worker could first hear it, else a restart would raise an alert per gate
        if self._since is not None and (self.clock() - self._since).total_seconds() < self.after_s:
            return []
        with self._sessions() as s, s.begin():
            marked = mark_silent_gates(s, self.clock(), self.after_s, self.sites)
        for gate_id in marked:
            log.warning("gate %s silent for %.0f s: marked offline", gate_id, self.after_s)
        return marked

    def start(self) -> SilenceWatch:
        """Call once subscribed: the timeout counts from here for gates last seen before."""
        self._since = self.clock()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="menwei-ingest-silence", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the database may be away; the next round retries
                log.exception("gate silence check failed")
