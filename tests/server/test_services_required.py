"""An unreachable PostgreSQL or Mosquitto fails the run instead of skipping it (issue 8 item 16):
a green run with every database test skipped proves nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:  # bound then released: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(allow_skip: bool) -> subprocess.CompletedProcess:
    port = _closed_port()
    env = {**os.environ, "MENWEI_TEST_PG": f"postgresql://postgres@127.0.0.1:{port}/test",
           "MENWEI_TEST_MQTT_URL": f"mqtt://127.0.0.1:{port}"}
    env.pop("MENWEI_TEST_ALLOW_SKIP", None)
    if allow_skip:
        env["MENWEI_TEST_ALLOW_SKIP"] = "1"
    # one PostgreSQL-parametrised test and one broker test are enough to show the rule
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs",
                           "tests/server/test_db.py::test_migrations_match_the_models[postgresql]",
                           "tests/server/test_services_required.py::test_broker_fixture_probe"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_broker_fixture_probe(broker_url):
    """Only a probe run by the subprocesses below (it needs the broker fixture)."""
    assert broker_url


def test_unreachable_services_fail_the_run():
    r = _run(allow_skip=False)
    assert r.returncode != 0, r.stdout
    assert "PostgreSQL not reachable" in r.stdout and "MQTT broker not reachable" in r.stdout
    assert "2 error" in r.stdout or "2 failed" in r.stdout, r.stdout


def test_the_opt_out_skips_instead():
    r = _run(allow_skip=True)
    assert r.returncode == 0, r.stdout
    assert "2 skipped" in r.stdout, r.stdout
