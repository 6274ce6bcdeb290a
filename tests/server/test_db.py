"""Schema, migrations, column types, settings and broker URLs — on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from menwei.mqtt import BrokerUrl, MqttError
from server.config import ConfigError, load_settings
from server.db.models import Base, Entry, Gate, Resident, ResidentStatus, Site
from server.db.session import current_revision, make_engine, normalise_url, upgrade


def test_migrations_match_the_models(engine, db_url):
    upgrade(db_url)  # idempotent
    from alembic.script import ScriptDirectory

    from server.db.session import alembic_config

    heads = ScriptDirectory.from_config(alembic_config(db_url)).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    assert current_revision(engine) == heads[0]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_times_are_utc_aware_both_ways(sessions):
    east8 = timezone(timedelta(hours=8))
    with sessions.begin() as s:
        s.add(Site(id="s1", name="S"))
        s.add(Resident(id="r1", site_id="s1", name="V", status=ResidentStatus.VISITOR,
                       valid_until=datetime(2030, 1, 1, 8, 0, tzinfo=east8)))
    with sessions() as s:
        r = s.get(Resident, "r1")
        assert r.valid_until == datetime(2030, 1, 1, 0, 0, tzinfo=UTC) and r.valid_until.tzinfo is not None
    with pytest.raises(StatementError, match="naive"), sessions.begin() as s:
        s.add(Resident(id="r2", site_id="s1", name="N", valid_until=datetime(2030, 1, 1)))


def test_constraints_hold(sessions):
    with sessions.begin() as s:
        s.add(Site(id="s1", name="S"))
        s.add(Gate(id="g1", site_id="s1", direction="in"))
    event_id = uuid.uuid4()
    row = {"site_id": "s1", "gate_id": "g1", "seq": 1, "captured_at": datetime.now(UTC), "direction": "in",
           "decision": "granted"}
    with sessions.begin() as s:
        s.add(Entry(event_id=event_id, **row))
    with pytest.raises(IntegrityError), sessions.begin() as s:  # event_id is unique
        s.add(Entry(event_id=event_id, **{**row, "seq": 2}))
    with pytest.raises(IntegrityError), sessions.begin() as s:  # foreign keys are enforced (SQLite too)
        s.add(Entry(event_id=uuid.uuid4(), **{**row, "gate_id": "nope"}))
    with pytest.raises(StatementError), sessions.begin() as s:  # enums are checked
        s.add(Gate(id="g2", site_id="s1", direction="sideways"))


def test_sqlite_pragmas(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'x' / 'db.sqlite'}")
    with eng.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert c.execute(text("PRAGMA busy_timeout")).scalar() == 10000
        assert c.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_database_urls():
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(Exception, match="unsupported database"):
        normalise_url("mysql://u@h/db")


def test_settings_layers_and_errors(tmp_path):
    f = tmp_path / "menwei.yaml"
    f.write_text("server:\n  db_url: sqlite:///a.db\n  retention:\n    face_crop_days: 14\n")
    env = {"MENWEI_MQTT_URL": "mqtt://broker:1884", "MENWEI_INGEST__SITES": "a, b",
           "MENWEI_RETENTION__ENTRY_DAYS": "365"}
    s = load_settings(f, env=env, listen="0.0.0.0:9000")
    assert (s.db_url, s.mqtt_url, s.listen_port) == ("sqlite:///a.db", "mqtt://broker:1884", 9000)
    assert s.retention.face_crop_days == 14 and s.retention.entry_days == 365
    assert s.ingest.sites == ["a", "b"]
    with pytest.raises(ConfigError, match=r"environment: retention.face_crop_days"):
        load_settings(f, env={"MENWEI_RETENTION__FACE_CROP_DAYS": "soon"})
    with pytest.raises(ConfigError, match=r"command line: listen: .*HOST:PORT"):
        load_settings(env={}, listen="8080")
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad, env={})


def test_broker_urls():
    b = BrokerUrl.parse("mqtts://gate%2F1:p%40ss@broker.example?version=3.1.1")
    assert (b.host, b.port, b.username, b.password, b.tls, b.version) == (
        "broker.example", 8883, "gate/1", "p@ss", True, "3.1.1")
    assert "p@ss" not in b.redacted()
    assert BrokerUrl.parse("mqtt://h").port == 1883
    with pytest.raises(MqttError):
        BrokerUrl.parse("http://h")
