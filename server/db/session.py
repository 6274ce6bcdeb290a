"""Engines, sessions and schema upgrades for SQLite and PostgreSQL.

``make_engine(url)`` applies the per-dialect settings the server relies on; ``upgrade(url)``
brings the schema to the newest Alembic revision (used by ``menwei server init`` and tests);
``session_factory(engine)`` returns the sessionmaker every component shares.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from menwei.errors import MenweiError

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000


class DatabaseError(MenweiError):
    code = "database"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and pick the psycopg 3 driver we ship."""
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database URL {url!r}: {exc}") from None
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(f"unsupported database {u.get_backend_name()!r}; use sqlite:/// or postgresql://")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", echo: bool = False, **kwargs) -> Engine:
    """An engine with the settings the server depends on.

    SQLite: WAL (readers never block the ingest writer), foreign keys enforced (off by default in
    SQLite), a busy timeout so API writes wait for the ingest transaction instead of failing, and
    synchronous=FULL by default because an ack promises the event survives a power cut.
    """
    url = normalise_url(url)
    u = make_url(url)
    # names, phones and notes must not reach logs through a failed statement's message
    kwargs.setdefault("hide_parameters", True)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            _private_sqlite_file(Path(u.database).expanduser())
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        connect_args.update(kwargs.pop("connect_args", {}))
        engine = create_engine(url, echo=echo, connect_args=connect_args, **kwargs)
        sync = sqlite_synchronous.upper()
        if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise DatabaseError(f"sqlite synchronous must be OFF/NORMAL/FULL/EXTRA, not {sqlite_synchronous!r}")

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, echo=echo, **kwargs)


def _private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 (and its folder 0700) before SQLite does: SQLite creates it
    with the process umask (usually world-readable), and its -wal/-shm files copy the database
    file's mode. An existing file readable by others is tightened: it holds names and embeddings."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if extra.stat().st_mode & 0o077:
                extra.chmod(0o600)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects stay readable after commit (API responses, ingest acks)
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Create or migrate the schema to ``revision`` (idempotent)."""
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
