"""The page's tests share tests/server's broker fixtures (`broker_url`, `uid` and the autouse
`shared_broker_hygiene` that ends every MQTT session a test opened) and its gate helpers
(gate_kit.py, broker_kit.py) rather than keeping copies that could drift."""

from __future__ import annotations

from server_fixtures import server_conftest

_server = server_conftest()

broker_url = _server.broker_url
uid = _server.uid
shared_broker_hygiene = _server.shared_broker_hygiene
face_engine = _server.face_engine
