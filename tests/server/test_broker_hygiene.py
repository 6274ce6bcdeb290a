"""shared_broker_hygiene (tests/server/conftest.py): a test that "forgets" its persistent session and
its retained message leaves neither on the shared broker. The two tests run in file order: the
first leaves state behind on purpose, the second looks for it."""

from __future__ import annotations

import queue
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from menwei.mqtt import BrokerUrl, SessionOptions, connect, end_session

TOKEN = uuid.uuid4().hex[:10]
CLIENT_ID = f"forgetful-{TOKEN}"
TOPIC = f"menwei/v1/hyg{TOKEN}/g{TOKEN}/ctl/gallery"


def test_a_test_that_forgets_to_clean_up(broker_url):
    client = connect(broker_url, SessionOptions(client_id=CLIENT_ID, persistent=True, session_expiry_s=3600))
    client.subscribe(f"$share/hyg{TOKEN}/menwei/v1/hyg{TOKEN}/+/evt/entry", qos=1)
    client.publish(TOPIC, b'{"version": 1}', qos=1, retain=True).wait_for_publish(5)
    client.disconnect()  # session (expiry 1 h) and retained message left behind, on purpose
    client.loop_stop()


def test_nothing_of_it_is_left_on_the_broker(broker_url):
    b = BrokerUrl.parse(broker_url)
    got: queue.Queue = queue.Queue()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"look-{TOKEN}", protocol=mqtt.MQTTv5)
    sub.on_message = lambda _c, _u, m: got.put(m.payload)
    sub.connect(b.host, b.port)
    sub.loop_start()
    sub.subscribe(TOPIC, qos=1)
    try:
        try:
            payload = got.get(timeout=1.0)
        except queue.Empty:
            payload = None
        assert payload is None, "the retained message of the previous test is still there"
    finally:
        sub.disconnect()
        sub.loop_stop()
    assert end_session(broker_url, CLIENT_ID) is False  # its session was ended already
