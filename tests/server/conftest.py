"""Shared server fixtures: real SQLite and PostgreSQL databases, the real Mosquitto broker.

``db_url`` is parametrised over both databases; each test gets a fresh, migrated database
(PostgreSQL: a uniquely named database dropped afterwards, so parallel runs never collide).
``broker_url`` is Mosquitto at 127.0.0.1:1883 (override: MENWEI_TEST_MQTT_URL); topics and client
ids are made unique per test with ``uid``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from ingest_kit import create_pg_database, drop_pg_database

PG_ADMIN = os.environ.get("MENWEI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MQTT_URL = os.environ.get("MENWEI_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


# A green run that skipped every database test proves nothing: an unreachable service fails the
# test unless this opt-out is set (e.g. a laptop without PostgreSQL).
ALLOW_SKIP = os.environ.get("MENWEI_TEST_ALLOW_SKIP") == "1"


def _unreachable(what: str) -> None:
    msg = f"{what} (set MENWEI_TEST_ALLOW_SKIP=1 to skip such tests instead)"
    if ALLOW_SKIP:
        pytest.skip(msg)
    pytest.fail(msg, pytrace=False)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def uid() -> str:
    """A short unique token for site/gate ids, client ids and database names."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    if not _reachable(PG_ADMIN, 5432):
        _unreachable(f"PostgreSQL not reachable at {PG_ADMIN}")
    return PG_ADMIN


@pytest.fixture(scope="session")
def broker_url() -> str:
    if not _reachable(MQTT_URL, 1883):
        _unreachable(f"MQTT broker not reachable at {MQTT_URL}")
    return MQTT_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:
    """A fresh database migrated to head, on each dialect."""
    from server.db.session import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'server.db'}"
        upgrade(url)
        yield url
        return
    admin = request.getfixturevalue("pg_admin_url")
    url = create_pg_database(admin)
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(admin, url)


@pytest.fixture
def engine(db_url):
    from server.db.session import make_engine

    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine):
    from server.db.session import session_factory

    return session_factory(engine)


@pytest.fixture(scope="session")
def face_engine():
    """The default-pack face engine, loaded once per session (slow to load, cheap to share)."""
    from edge.face.engine import FaceEngine

    return FaceEngine.load("dlib-resnet")
