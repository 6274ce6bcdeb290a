"""The web UI's tests reuse tests/server's fixtures (the session's face engine, uid) and its gate
helpers rather than keeping copies that could drift."""

from __future__ import annotations

from server_fixtures import server_conftest

_server = server_conftest()

uid = _server.uid
face_engine = _server.face_engine
