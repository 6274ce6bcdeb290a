"""Shared server fixtures: real SQLite and PostgreSQL databases, the real Mosquitto broker.

``db_url`` is parametrised over both databases; each test gets a fresh, migrated database
(PostgreSQL: a uniquely named database dropped afterwards, so parallel runs never collide).
``broker_url`` is Mosquitto at 127.0.0.1:1883 (override: MENWEI_TEST_MQTT_URL); topics and client
ids are made unique per test with ``uid``. That broker is shared with every other run on the
machine, so ``shared_broker_hygiene`` (autouse) ends, after each test that uses it, the broker
session of every client id the test created in-process plus ``ingest-<uid>`` (the id tests give
worker subprocesses), and clears every retained message the test published: a test cannot leave
a persistent session, a shared-subscription member or a retained ctl/gallery behind.
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


@pytest.fixture(autouse=True)
def shared_broker_hygiene(request) -> Iterator[None]:
    if "broker_url" not in request.fixturenames:
        yield
        return
    import paho.mqtt.client as paho

    from menwei.mqtt import BrokerUrl, SessionOptions, connect, end_session

    url = request.getfixturevalue("broker_url")
    ids: set[str] = set()
    retained: set[str] = set()
    real_init, real_publish = paho.Client.__init__, paho.Client.publish

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        cid = self._client_id
        if cid:
            ids.add(cid.decode() if isinstance(cid, bytes) else cid)

    def publish(self, topic, payload=None, qos=0, retain=False, properties=None):
        if retain and BrokerUrl.parse(url).port == self._port:
            (retained.add if payload else retained.discard)(topic)
        return real_publish(self, topic, payload, qos, retain, properties)

    paho.Client.__init__, paho.Client.publish = init, publish
    if "uid" in request.fixturenames:
        ids.add(f"ingest-{request.getfixturevalue('uid')}")
    try:
        yield
    finally:
        paho.Client.__init__, paho.Client.publish = real_init, real_publish
        if retained:
            cleaner = connect(url, SessionOptions(client_id=f"clean-{uuid.uuid4().hex[:10]}", persistent=False))
            for topic in sorted(retained):
                cleaner.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
            cleaner.disconnect()
            cleaner.loop_stop()
        for cid in sorted(ids):
            end_session(url, cid)


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
