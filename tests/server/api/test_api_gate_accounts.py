"""Gate MQTT accounts from the API (issue 8 item 1): usernames in the gate.<id> namespace, and no gate
id equal to the server's own MQTT account. The API publishes through a private Mosquitto that
knows only the server account (``mqtt_publisher`` overridden for this module)."""

from __future__ import annotations

import pytest
from broker_kit import PrivateMosquitto, free_port

from menwei.mqtt import SessionOptions, connect
from server.api.broker import PahoPublisher
from server.api.roles import Role
from server.broker_auth import hash_password, write_files


@pytest.fixture
def mqtt_publisher(tmp_path, uid):
    port = free_port()
    out = tmp_path / "broker"
    write_files(out, [], "menwei-server", hash_password("server-pw-1234"))
    broker = PrivateMosquitto(tmp_path, f"listener {port} 127.0.0.1\nallow_anonymous false\n"
                                        f"password_file {out / 'passwd'}\nacl_file {out / 'acl'}\n", [port])
    publisher = PahoPublisher(connect(f"mqtt://menwei-server:server-pw-1234@127.0.0.1:{port}",
                                      SessionOptions(client_id=f"api-{uid}", persistent=False)))
    yield publisher
    publisher.close()
    broker.stop()


def test_gate_accounts_are_namespaced_and_never_the_servers(api, uid):
    admin = api.add_user("root", Role.ADMIN, [])
    site = f"s{uid}"
    assert api.client.post("/api/v1/sites", json={"id": site, "name": "S"}, headers=admin).status_code == 201
    r = api.client.post("/api/v1/gates", json={"id": "menwei-server", "site_id": site, "direction": "in"},
                        headers=admin)
    assert r.status_code == 409 and "server's MQTT account" in r.json()["detail"]
    assert set(r.json()) >= {"detail", "code"}
    r = api.client.post("/api/v1/gates", json={"id": f"g{uid}", "site_id": site, "direction": "in"}, headers=admin)
    assert r.status_code == 201
    mqtt = r.json()["mqtt"]
    assert mqtt["username"] == f"gate.g{uid}" and mqtt["topic_root"] == f"menwei/v1/{site}/g{uid}"
    rotated = api.client.post(f"/api/v1/gates/g{uid}/credentials", headers=admin)
    assert rotated.status_code == 200 and rotated.json()["username"] == f"gate.g{uid}"
