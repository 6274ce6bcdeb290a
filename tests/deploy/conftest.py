"""The deployment tests share tests/server's fixtures (`uid`, `pg_admin_url`, `db_url`) and kits
(broker_kit.py for a private Mosquitto, tls_kit.py for a throw-away CA, ingest_kit.py for the
registry and PostgreSQL databases) rather than keeping copies that could drift."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SERVER_TESTS = Path(__file__).resolve().parents[1] / "server"
if str(SERVER_TESTS) not in sys.path:
    sys.path.insert(0, str(SERVER_TESTS))

_spec = importlib.util.spec_from_file_location("server_tests_conftest_for_deploy", SERVER_TESTS / "conftest.py")
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)

uid = _server.uid
pg_admin_url = _server.pg_admin_url
db_url = _server.db_url
