"""Helpers for the provisioning and production-broker tests: the `menwei` command of this
checkout, a registry with gates, and reading a bundle's password the way a technician would
(from the file, not from the code that wrote it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

REPO = Path(__file__).resolve().parents[2]


def menwei(*args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 120):
    """`menwei ARGS` of this checkout (the venv's console script may belong to another one)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for key in [k for k in env if k.startswith("MENWEI_")]:
        del env[key]  # nothing from the caller's environment decides what a test sees
    return subprocess.run([sys.executable, "-m", "menwei", *map(str, args)], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def bundle_data(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def bundle_login(path: Path) -> tuple[str, str]:
    """The MQTT user and password inside a bundle's mqtts URL."""
    url = urlsplit(bundle_data(path)["gate_file"]["mqtt"]["url"])
    return unquote(url.username), unquote(url.password)


def seed_gates(db_url: str, site: str, gates: dict[str, str], inactive: tuple[str, ...] = ()) -> None:
    from ingest_kit import seed

    from server.db.models import Gate
    from server.db.session import make_engine, session_factory

    engine = make_engine(db_url)
    try:
        sessions = session_factory(engine)
        seed(sessions, site, gates)
        with sessions.begin() as s:
            for gate_id in inactive:
                s.get(Gate, gate_id).active = False
    finally:
        engine.dispose()


def gate_row(db_url: str, gate_id: str):
    from server.db.models import Gate
    from server.db.session import make_engine, session_factory

    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            g = s.get(Gate, gate_id)
            s.expunge(g)
            return g
    finally:
        engine.dispose()


def set_active(db_url: str, gate_id: str, active: bool) -> None:
    """What PATCH /gates/{id} {"active": false} stores."""
    from server.db.models import Gate
    from server.db.session import make_engine, session_factory

    engine = make_engine(db_url)
    try:
        with session_factory(engine).begin() as s:
            s.get(Gate, gate_id).active = active
    finally:
        engine.dispose()
