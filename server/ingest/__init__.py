"""Ingestion of gate messages: validation, quarantine, batch insert, reconciliation, ack after commit.

``IngestWorker`` is embedded by ``menwei server run``; ``run_ingest(settings)`` is the blocking
entry point of ``menwei server ingest`` (and ``python -m server.ingest``).
"""

from __future__ import annotations

import logging
import signal
import threading

from server.config import Settings

log = logging.getLogger(__name__)


def build_worker(settings: Settings, *, mqtt_url: str | None = None, rematch: bool | None = None):
    """An IngestWorker on its own engine, with the district re-matcher if enabled."""
    from sqlalchemy.exc import SQLAlchemyError

    from server.db.session import DatabaseError, current_revision, make_engine, session_factory
    from server.ingest.worker import IngestWorker
    from server.reconcile.rematch import Rematcher

    engine = make_engine(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot open database: {str(exc).splitlines()[0]}") from None
    if revision is None:
        raise DatabaseError("the database has no schema yet: run `menwei server init` first")
    sessions = session_factory(engine)
    use_rematch = settings.ingest.rematch if rematch is None else rematch
    rematcher = Rematcher(sessions, pack=settings.pack) if use_rematch else None
    return IngestWorker(settings, sessions, mqtt_url=mqtt_url, rematcher=rematcher)


def run_ingest(settings: Settings, *, stop: threading.Event | None = None, mqtt_url: str | None = None,
               rematch: bool | None = None, on_started=None) -> dict[str, int]:
    """Run the worker until SIGINT/SIGTERM (or ``stop`` is set); returns the final counters."""
    stop = stop or threading.Event()
    worker = build_worker(settings, mqtt_url=mqtt_url, rematch=rematch)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    worker.start()
    if on_started is not None:
        on_started(worker)
    try:
        while not stop.wait(1.0):
            if not worker.running:
                break
    finally:
        worker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return worker.counters()


__all__ = ["build_worker", "run_ingest"]
