"""The deployment tests share tests/server's fixtures (`uid`, `pg_admin_url`, `db_url`) and kits
(broker_kit.py for a private Mosquitto, tls_kit.py for a throw-away CA, ingest_kit.py for the
registry and PostgreSQL databases) rather than keeping copies that could drift."""

from __future__ import annotations

from server_fixtures import server_conftest

_server = server_conftest()

uid = _server.uid
pg_admin_url = _server.pg_admin_url
db_url = _server.db_url
