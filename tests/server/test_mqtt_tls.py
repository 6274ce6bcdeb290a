"""mqtts:// through a real Mosquitto TLS listener with a throw-away CA (openssl), and a refused login."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
from broker_kit import PrivateMosquitto, free_port
from tls_kit import make_ca

from menwei.mqtt import MqttError, SessionOptions, connect


@pytest.fixture
def tls_broker(tmp_path):
    tls = make_ca(tmp_path / "ca")
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "ingest", "right-password"], check=True,
                   capture_output=True)
    port = free_port()
    broker = PrivateMosquitto(tmp_path, f"listener {port} 127.0.0.1\ncafile {tls.ca}\ncertfile {tls.cert}\n"
                                        f"keyfile {tls.key}\nallow_anonymous false\npassword_file {passwd}\n",
                              [port])
    yield port, tls.ca
    broker.stop()


def test_mqtts_round_trip_and_bad_password(tls_broker):
    port, ca = tls_broker
    url = f"mqtts://ingest:right-password@127.0.0.1:{port}?ca={ca}"
    got = threading.Event()

    def setup(c):
        c.on_message = lambda *_a: got.set()

    client = connect(url, SessionOptions(client_id="tls-test", persistent=False), setup=setup)
    try:
        client.subscribe("menwei/v1/s/g/status", qos=1)
        time.sleep(0.3)
        client.publish("menwei/v1/s/g/status", b'{"state": "online"}', qos=1)
        assert got.wait(5), "no message back over TLS"
    finally:
        client.disconnect()
        client.loop_stop()
    with pytest.raises(MqttError, match="refused"):
        connect(f"mqtts://ingest:wrong@127.0.0.1:{port}?ca={ca}", SessionOptions(client_id="tls-bad", persistent=False))
    with pytest.raises(MqttError):  # a server certificate we do not trust
        connect(f"mqtts://ingest:right-password@127.0.0.1:{port}", SessionOptions(client_id="tls-untrusted"),
                timeout=3)


def test_the_gate_link_delivers_over_tls_with_its_password(tls_broker, tmp_path):
    """The gate's link, given an mqtts:// URL with a CA and a password as its gate file has them."""
    from edge.link.outbox import Outbox
    from edge.link.session import GateLink, LinkHandlers
    from menwei.wire import Ack, Channel, topic

    port, ca = tls_broker
    url = f"mqtts://ingest:right-password@127.0.0.1:{port}?ca={ca}"
    ob = Outbox(tmp_path / "outbox.sqlite")
    for i in range(3):
        ob.append(lambda seq, i=i: (f"ev-{i}", f'{{"seq": {seq}}}'.encode()))
    seen: list[bytes] = []

    def setup(c):
        def on_message(client, _u, m):
            seen.append(m.payload)
            if len(seen) == 3:  # what the ingest worker does after its commit
                client.publish(topic("s1", "g1", Channel.ACK), Ack(acked_seq=3).model_dump_json(), qos=1)
        c.on_message = on_message

    server = connect(url, SessionOptions(client_id="tls-server", persistent=False), setup=setup)
    server.subscribe(topic("s1", "g1", Channel.ENTRY), qos=1)
    time.sleep(0.3)
    link = GateLink(url, "s1", "g1", ob, LinkHandlers(), session_expiry_s=0).start()
    try:
        assert link.wait_drained(15), f"not drained over TLS: {link.stats}"
        assert [json.loads(p)["seq"] for p in seen[:3]] == [1, 2, 3] and link.stats.connected
    finally:
        link.stop()
        server.disconnect()
        server.loop_stop()
        ob.close()
