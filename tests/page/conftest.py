"""The page's tests share tests/server's broker fixtures (`broker_url`, `uid` and the autouse
`shared_broker_hygiene` that ends every MQTT session a test opened) and its gate helpers
(gate_kit.py, broker_kit.py) rather than keeping copies that could drift."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SERVER_TESTS = Path(__file__).resolve().parents[1] / "server"
if str(SERVER_TESTS) not in sys.path:
    sys.path.insert(0, str(SERVER_TESTS))

_spec = importlib.util.spec_from_file_location("server_tests_conftest", SERVER_TESTS / "conftest.py")
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)

broker_url = _server.broker_url
uid = _server.uid
shared_broker_hygiene = _server.shared_broker_hygiene
face_engine = _server.face_engine
